"""Writing to the event log. Call inside the transaction that makes the change."""

from typing import Any

from django.db import models

from .models import Event

# The events that mark a paid payment that bought nothing (it started no term): the
# subscriptions app records them, refunds sweeps for them, the payment page reads them.
DUPLICATE_PURCHASE = "payment.duplicate_purchase"
UNAPPLIED_RENEWAL = "payment.unapplied_renewal"
UNAPPLIED_CLOSED_ACCOUNT = "payment.unapplied_closed_account"  # paid after the account was deleted
# A second gateway transaction for one order already paid (two tabs of one hosted page both
# paid): billing records it as a payment of its own that bought nothing.
SECOND_TRANSACTION = "payment.second_transaction"
UNAPPLIED_PAYMENT_VERBS = (DUPLICATE_PURCHASE, UNAPPLIED_RENEWAL, UNAPPLIED_CLOSED_ACCOUNT, SECOND_TRANSACTION)
# A card payment the bank is still deciding (billing.services.payment_bank_deciding).
BANK_DECIDING = "payment.bank_deciding"


def build(
    *,
    verb: str,
    subject: models.Model,
    customer=None,
    actor=None,
    actor_kind: str = Event.ActorKind.SYSTEM,
    data: dict[str, Any] | None = None,
) -> Event:
    """An unsaved event row; `record_many` writes a list of them in one statement.
    `customer` may be a user or a user id."""
    customer_kw = {"customer_id": customer} if isinstance(customer, int) else {"customer": customer}
    return Event(
        verb=verb,
        subject_type=subject._meta.label_lower,
        subject_id=str(subject.pk),
        actor=actor,
        actor_kind=actor_kind,
        data=data or {},
        **customer_kw,
    )


def record(**kwargs) -> Event:
    """Write one event (same arguments as `build`)."""
    event = build(**kwargs)
    event.save()
    return event


def record_many(rows: list[Event]) -> list[Event]:
    """Write events made by `build` in one INSERT (batches of renewals)."""
    return Event.objects.bulk_create(rows) if rows else []


def for_subject(subject: models.Model):
    return Event.objects.filter(subject_type=subject._meta.label_lower, subject_id=str(subject.pk))
