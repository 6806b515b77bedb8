"""Amendments of the Public Offer (clause 11): e-mail live customers when a new version is
published, show a notice in the personal account until dismissed."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from soldee import events
from soldee.models import Event

from .models import Acceptance, AmendmentNoticeDismissal, LegalDocument


def live_customer_ids() -> list[int]:
    """Customers with a live subscription (imported lazily: offer must not import
    subscriptions at module level)."""
    from subscriptions.models import LIVE_STATUSES, Subscription

    return list(
        Subscription.objects.filter(status__in=LIVE_STATUSES)
        .order_by("customer_id").values_list("customer_id", flat=True).distinct()
    )


def amendment_notice_for(user) -> dict | None:
    """The newest published Public Offer version, if it was published after the
    customer's last acceptance, is not the version they accepted, and the notice was
    not dismissed: {"document", "accepted"} (accepted = the version they accepted)."""
    if not getattr(user, "is_authenticated", False):
        return None
    last = (Acceptance.objects.filter(customer=user).order_by("-accepted_at", "-id")
            .prefetch_related("accepted_documents__document").first())
    if last is None:
        return None
    accepted = last.offer_document
    newest = (LegalDocument.objects.filter(kind=LegalDocument.Kind.OFFER,
                                           status=LegalDocument.Status.PUBLISHED)
              .order_by("-published_at", "-id").first())
    if newest is None or (accepted is not None and newest.pk == accepted.pk):
        return None
    if newest.published_at <= last.accepted_at:
        return None
    if AmendmentNoticeDismissal.objects.filter(customer=user, document=newest).exists():
        return None
    return {"document": newest, "accepted": accepted}


def amendment_notice_dismiss(*, customer, document_id: int) -> bool:
    """Close the notice about `document_id` for this customer (idempotent)."""
    document = LegalDocument.objects.get(pk=document_id, kind=LegalDocument.Kind.OFFER,
                                         status=LegalDocument.Status.PUBLISHED)
    try:
        with transaction.atomic():
            dismissal = AmendmentNoticeDismissal.objects.create(customer=customer, document=document)
            events.record(verb="offer.amendment_notice_dismissed", subject=dismissal, customer=customer,
                          actor=customer, actor_kind=Event.ActorKind.CUSTOMER,
                          data={"label": document.label})
    except IntegrityError:
        return False
    return True
