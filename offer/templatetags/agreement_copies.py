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
    request = (AgreementCopyRequest.objects.filter(acceptance=acceptance)
               .order_by("-requested_at", "-id").first())
    polling = request is not None and request.status in ("requested", "rendering", "failed")
    return {
        "request": request,
        "open": request is not None and request.status in AgreementCopyRequest.OPEN_STATUSES,
        "has_pdf": AgreementCopy.objects.filter(acceptance=acceptance).exists(),
        "polling": polling,
    }


@register.simple_tag
def offer_amendment_notice(user):
    return amendment_notice_for(user)
