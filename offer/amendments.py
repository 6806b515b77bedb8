"""Amendments of the legal documents (clause 11 of the Offer; Privacy Policy 9.1): e-mail
customers when a new version of the Public Offer, the Privacy Policy or the Terms of Use is
published, and show a notice in the personal account until dismissed."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from soldee import events
from soldee.models import Event

from .models import Acceptance, AmendmentNoticeDismissal, LegalDocument


def customer_ids_to_notify(kind: str) -> list[int]:
    """Who is told of a new version of `kind`: customers with a live subscription; for the
    Privacy Policy also every open account that ever concluded the agreement, as their
    personal data is kept (imported lazily: offer must not import subscriptions at module
    level)."""
    from django.contrib.auth import get_user_model

    from subscriptions.models import LIVE_STATUSES, Subscription

    ids = set(Subscription.objects.filter(status__in=LIVE_STATUSES).values_list("customer_id", flat=True))
    if kind == LegalDocument.Kind.PRIVACY:
        ids |= set(get_user_model().objects.filter(is_active=True, acceptances__isnull=False)
                   .values_list("pk", flat=True))
    return sorted(ids)


def customer_ids_renewing(customer_ids) -> set[int]:
    """Those of `customer_ids` whose live subscription renews (renewal on): a renewal
    payment is to come."""
    from subscriptions.models import LIVE_STATUSES, Subscription

    return set(Subscription.objects.filter(customer_id__in=list(customer_ids), status__in=LIVE_STATUSES,
                                           auto_renew=True).values_list("customer_id", flat=True))


def amendment_notice_for(user) -> dict | None:
    """The newest published version of a legal document (the Offer first, then the Privacy
    Policy, the Terms of Use) that is not the version of its kind the customer last
    accepted — even one published before that purchase with an effective date still to
    come — and whose notice was not dismissed:
    {"document", "accepted"} (accepted = the version of that kind they accepted)."""
    if not getattr(user, "is_authenticated", False):
        return None
    from .services import accepted_versions

    last = Acceptance.objects.filter(customer=user).order_by("-accepted_at", "-id").first()
    if last is None:
        return None
    versions = accepted_versions([user.pk])
    by_id = LegalDocument.objects.in_bulk(list(versions.values()))
    accepted = {kind: by_id[document_id] for (_c, kind), document_id in versions.items()}
    dismissed = set(AmendmentNoticeDismissal.objects.filter(customer=user).values_list("document_id", flat=True))
    for kind in (LegalDocument.Kind.OFFER, LegalDocument.Kind.PRIVACY, LegalDocument.Kind.TERMS):
        newest = (LegalDocument.objects.filter(kind=kind, status=LegalDocument.Status.PUBLISHED)
                  .order_by("-published_at", "-id").first())
        seen = accepted.get(kind)
        if newest is None or (seen is not None and newest.pk == seen.pk):
            continue
        if seen is None and newest.published_at <= last.accepted_at:
            continue  # an acceptance recorded before this kind of document was pinned at all
        if newest.pk not in dismissed:
            return {"document": newest, "accepted": seen}
    return None


def amendment_notice_dismiss(*, customer, document_id: int) -> bool:
    """Close the notice about `document_id` for this customer (idempotent)."""
    document = LegalDocument.objects.get(pk=document_id, status=LegalDocument.Status.PUBLISHED)
    try:
        with transaction.atomic():
            dismissal = AmendmentNoticeDismissal.objects.create(customer=customer, document=document)
            events.record(verb="offer.amendment_notice_dismissed", subject=dismissal, customer=customer,
                          actor=customer, actor_kind=Event.ActorKind.CUSTOMER,
                          data={"label": document.label})
    except IntegrityError:
        return False
    return True
