"""Personal-account helpers for agreement copies and offer amendments.

    {% load agreement_copies %}
    {% agreement_copy_state acceptance as state %}   {request, has_pdf, polling}
    {% offer_amendment_notice user as notice %}      {document, accepted} or None
"""

from django import template

from ..amendments import amendment_notice_for
from ..models import AgreementCopy, AgreementCopyRequest

register = template.Library()


@register.simple_tag
def agreement_copy_state(acceptance) -> dict:
    prefetched = getattr(acceptance, "copy_requests_newest_first", None)  # account_overview
    if prefetched is not None:
        request = prefetched[0] if prefetched else None
    else:
        request = (AgreementCopyRequest.objects.filter(acceptance=acceptance)
                   .order_by("-requested_at", "-id").first())
    polling = request is not None and request.status in ("requested", "rendering", "failed")
    return {
        "request": request,
        "open": request is not None and request.status in AgreementCopyRequest.OPEN_STATUSES,
        "has_pdf": _has_copy(acceptance),
        "polling": polling,
    }


def _has_copy(acceptance) -> bool:
    if "agreement_copy" in acceptance._state.fields_cache:  # select_related: no query
        return acceptance._state.fields_cache["agreement_copy"] is not None
    return AgreementCopy.objects.filter(acceptance=acceptance).exists()


@register.simple_tag
def offer_amendment_notice(user):
    return amendment_notice_for(user)
