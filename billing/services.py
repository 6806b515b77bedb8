"""Every write to a payment goes through here: one transaction each, rows locked in the
fixed order (customer → payment → subscription via the purpose handler), an event row,
side effects after commit. Gateway calls happen outside any transaction."""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from soldee import events
from soldee.bulk import rows_update
from soldee.locking import lock_customer as _lock_customer
from soldee.locking import lock_customers as _lock_customers
from soldee.models import Event
from soldee.money import format_money  # noqa: F401  (re-exported for views)
from soldee.staff_language import staff_language
from soldee.tasks import enqueue_on_commit, staff_alert_on_commit

from . import documents, purposes
from .gateways import ChargeResult, ChargeStatus, Notification, PaymentRequest, get_gateway
from .gateways.base import redacted
from .models import RECORDED_LATE_AFTER, IncomingNotification, Payment, PaymentMethod

log = logging.getLogger(__name__)

SETTLEABLE = {
    Payment.Status.PENDING,
    Payment.Status.PROCESSING,
    Payment.Status.FAILED,  # the customer may try again on the same hosted page
    Payment.Status.EXPIRED,  # a late approval still means money was taken: settle it
}


class PaymentMismatch(Exception):
    """The gateway reports an amount or currency that is not what we asked for."""


@dataclass(frozen=True)
class Conversion:
    amount_minor: int
    currency: str
    kzt_amount_minor: int
    rate: object = None
    rate_date: object = None
    source: str = ""

    @property
    def amount_display(self) -> str:
        return format_money(self.amount_minor, self.currency)




def payment_create(
    *,
    customer,
    purpose: str,
    purpose_ref: str,
    description: str,
    conversion: Conversion,
    idempotency_key: str,
    pinned_documents: list[dict] | None = None,
    client_ip: str | None = None,
    user_agent: str = "",
    method: str = Payment.Method.CARD,
    payment_method: PaymentMethod | None = None,
    status: str = Payment.Status.PENDING,
) -> tuple[Payment, bool]:
    """Record the intent to take money. The same idempotency key returns the same
    payment (a double click never makes a second charge). Returns (payment, created)."""
    try:
        with transaction.atomic():
            payment = Payment.objects.create(
                customer=customer,
                purpose=purpose,
                purpose_ref=purpose_ref,
                description=description[:255],
                amount_minor=conversion.amount_minor,
                currency=conversion.currency,
                kzt_amount_minor=conversion.kzt_amount_minor,
                exchange_rate=conversion.rate,
                exchange_rate_date=conversion.rate_date,
                exchange_rate_source=conversion.source,
                idempotency_key=idempotency_key,
                gateway=settings.PAYMENT_GATEWAY if method != Payment.Method.BANK_TRANSFER else "bank",
                pinned_documents=pinned_documents or [],
                client_ip=client_ip,
                user_agent=user_agent[:1000],
                method=method,
                payment_method=payment_method,
                status=status,
            )
            events.record(
                verb="payment.created", subject=payment, customer=customer,
                actor=customer if method == Payment.Method.CARD else None,
                actor_kind=Event.ActorKind.CUSTOMER if method == Payment.Method.CARD else Event.ActorKind.SYSTEM,
                data={"amount_minor": payment.amount_minor, "currency": payment.currency,
                      "purpose": purpose, "documents": [d.get("label") for d in payment.pinned_documents]},
            )
    except IntegrityError:
        return Payment.objects.get(idempotency_key=idempotency_key), False
    return payment, True


def payment_request(payment: Payment) -> PaymentRequest:
    return PaymentRequest(
        invoice_id=str(payment.public_id),
        amount_minor=payment.amount_minor,
        currency=payment.currency,
        description=payment.description,
        customer_ref=str(payment.customer.public_id),
        customer_email=payment.customer.email,
        return_url=settings.SITE_URL + _return_path(payment.public_id),
        idempotency_key=payment.idempotency_key,
    )


_NIL = uuid.UUID(int=0)


@functools.cache
def _return_path_template() -> str:
    return reverse("billing:return", kwargs={"public_id": _NIL})


def _return_path(public_id) -> str:
    """reverse() of the return page, without resolving the URLconf for every payment of
    a renewal batch (the path differs only by the payment's id)."""
    return _return_path_template().replace(str(_NIL), str(public_id))


def payment_hosted_url(*, payment: Payment) -> str:
    """Where to send the customer to pay. Idempotent at the gateway (our key)."""
    return get_gateway(payment.gateway).start_hosted_payment(payment_request(payment)).redirect_url


def payment_settle(*, public_id, charge: ChargeResult, source: str, by=None) -> tuple[Payment, bool]:
    """The gateway says the money is taken. Idempotent: a second call changes nothing.
    Returns (payment, newly_settled). Raises PaymentMismatch / ValueError on a charge that
    cannot settle this payment. `by`: the staff member who recorded it (a bank transfer)."""
    settled = payments_settle(results=[(public_id, charge)], source=source, strict=True, by=by)
    if not settled:
        raise Payment.DoesNotExist(f"no payment {public_id}")
    return settled[0]


def payments_settle(*, results: list[tuple[object, ChargeResult]], source: str,
                    strict: bool = False, by=None) -> list[tuple[Payment, bool]]:
    """Settle many payments the gateway approved, in ONE transaction — the post-payment
    path of every purchase and renewal (a first purchase is a batch of one): customers
    locked in id order, then the payments; payment rows, events, the purpose's handler
    (term, access, acceptance), receipts numbered with one sequence lock; e-mails and
    PDFs after commit. `results` pairs a payment's public id with the approving charge.

    Returns (payment, newly_settled) for each payment that settles or had settled. A
    charge that cannot settle its payment (wrong amount or currency, a refunded or
    cancelled payment) raises with `strict`; otherwise it is logged and left out, the
    payment unchanged, and the others settle."""
    charges = {str(public_id): charge for public_id, charge in results}
    if not charges:
        return []
    customer_ids = Payment.objects.filter(public_id__in=list(charges)).values_list("customer_id", flat=True)
    out: list[tuple[Payment, bool]] = []
    with transaction.atomic():
        _lock_customers(customer_ids)
        payments = list(
            Payment.objects.select_for_update(of=("self",)).select_related("customer", "customer__profile")
            .filter(public_id__in=list(charges)).order_by("pk")
        )
        settling, settled_events, refused, seconds = [], [], [], set()
        now, late = timezone.now(), False
        for payment in payments:
            charge = charges[str(payment.public_id)]
            if payment.status == Payment.Status.SUCCEEDED:
                if not (charge.gateway_ref and payment.gateway_ref and charge.gateway_ref != payment.gateway_ref):
                    out.append((payment, False))  # the same transaction again
                    continue
                payment = _second_transaction(payment, charge)
                if payment.status == Payment.Status.SUCCEEDED:  # recorded already
                    out.append((payment, False))
                    continue
                seconds.add(payment.pk)
            try:
                _check_settleable(payment, charge)
            except (PaymentMismatch, ValueError) as exc:
                if strict:
                    raise
                log.error("payment %s not settled from %s: %s", payment.public_id, source, exc)
                refused.append((payment, str(exc)))
                continue
            previous = payment.status
            payment.status = Payment.Status.SUCCEEDED
            payment.paid_at = charge.paid_at or now
            if now - payment.paid_at > RECORDED_LATE_AFTER:
                # Dated earlier than recorded (an invoice marked paid from the statement, a
                # gateway answer reconciled late): the export reports it when recorded.
                payment.recorded_at, late = now, True
            if charge.gateway_ref:
                payment.gateway_ref = charge.gateway_ref
            payment.card_mask = charge.card_mask or payment.card_mask
            payment.failure_code = payment.failure_message = ""
            # A closed (deleted) account keeps no card: nothing may charge it again.
            if (charge.card_token and payment.payment_method_id is None and payment.customer.is_active
                    and payment.pk not in seconds):  # the card of a second transaction renews nothing
                payment.payment_method = _payment_method_save(
                    customer=payment.customer, gateway=payment.gateway,
                    token=charge.card_token, card_mask=charge.card_mask,
                )
            settling.append(payment)
            settled_events.append(events.build(
                verb="payment.succeeded", subject=payment, customer=payment.customer, actor=by,
                actor_kind=Event.ActorKind.STAFF if by is not None else Event.ActorKind.GATEWAY,
                data={"amount_minor": payment.amount_minor, "currency": payment.currency,
                      "gateway_ref": payment.gateway_ref, "paid_at": payment.paid_at.isoformat(),
                      "from": previous, "source": source},
            ))
            out.append((payment, True))
        if refused:  # money the gateway reports that we cannot match: staff must look
            events.record_many([events.build(verb="payment.settlement_refused", subject=p, customer=p.customer_id,
                                             actor_kind=Event.ActorKind.GATEWAY,
                                             data={"reason": reason, "source": source}) for p, reason in refused])
            text = "\n".join(f"{p.public_id}: {reason}" for p, reason in refused)
            with staff_language():
                staff_alert_on_commit(_("Gateway results that do not match our payments"), text)
        if not settling:
            return out
        rows_update(settling, ["status", "paid_at", "gateway_ref", "card_mask", "failure_code",
                               "failure_message", "payment_method", "updated_at",
                               *(["recorded_at"] if late else [])])  # NULL for a renewal batch: not sent
        events.record_many(settled_events)
        by_purpose: dict[str, list[Payment]] = {}
        for payment in settling:
            if payment.pk in seconds:  # bought nothing: its order was paid by the first transaction
                continue
            by_purpose.setdefault(payment.purpose, []).append(payment)
        if seconds:
            _seconds_bought_nothing([p for p in settling if p.pk in seconds])
        for purpose, group in by_purpose.items():
            purposes.handlers_for(purpose).settled(group)
        documents.receipts_create(payments=settling)  # gapless receipt numbers, same transaction
        from . import tasks

        enqueue_on_commit(tasks.receipt_email, tasks.receipt_email_many, [p.pk for p in settling])
    return out


def _second_transaction(payment: Payment, charge: ChargeResult) -> Payment:
    """Inside payments_settle, the customer and `payment` locked: the gateway approved
    another transaction (`charge.gateway_ref`) for an order `payment` already paid — two
    tabs of one hosted page both paid past the gateway's check. The money came twice: the
    second transaction becomes a payment of its own (the same order, amount and documents),
    found again by its key when the gateway repeats it, settled with the batch and then
    marked as bought nothing (`_seconds_bought_nothing`), so it is refunded like any other."""
    key = f"{payment.idempotency_key}:second:{charge.gateway_ref}"[:128]
    existing = Payment.objects.select_for_update().filter(idempotency_key=key).first()
    if existing is not None:
        return existing
    return Payment.objects.create(
        customer=payment.customer, purpose=payment.purpose, purpose_ref=payment.purpose_ref,
        description=payment.description, amount_minor=payment.amount_minor, currency=payment.currency,
        kzt_amount_minor=payment.kzt_amount_minor, exchange_rate=payment.exchange_rate,
        exchange_rate_date=payment.exchange_rate_date, exchange_rate_source=payment.exchange_rate_source,
        status=Payment.Status.PROCESSING, method=payment.method, idempotency_key=key, gateway=payment.gateway,
        pinned_documents=payment.pinned_documents, client_ip=payment.client_ip, user_agent=payment.user_agent,
    )


def _seconds_bought_nothing(payments: list[Payment]) -> None:
    """Inside payments_settle: second transactions settled (receipted: the money came) that
    start nothing. The event marks each for the refunds sweep, which opens a refund request
    on the customer's behalf; staff are told now."""
    events.record_many([events.build(verb=events.SECOND_TRANSACTION, subject=p, customer=p.customer_id,
                                     actor_kind=Event.ActorKind.GATEWAY,
                                     data={"gateway_ref": p.gateway_ref, "first": p.idempotency_key.split(":second:")[0]})
                        for p in payments])
    with staff_language():
        staff_alert_on_commit(
            _("A second card payment for an order already paid"),
            "\n".join(_("Payment %(payment)s (%(amount)s, transaction %(transaction)s) paid again an order already "
                        "paid; it starts nothing. A refund request is opened for it within 15 minutes (admin: "
                        "Refund requests).") % {"payment": p.public_id, "amount": format_money(p.amount_minor, p.currency),
                                                "transaction": p.gateway_ref} for p in payments))


def _check_settleable(payment: Payment, charge: ChargeResult) -> None:
    if payment.status not in SETTLEABLE:
        raise ValueError(f"payment {payment.public_id} cannot be settled from {payment.status}")
    if charge.amount_minor is not None and (
        charge.amount_minor != payment.amount_minor or (charge.currency or payment.currency) != payment.currency
    ):
        raise PaymentMismatch(
            f"gateway reports {charge.amount_minor} {charge.currency}, "
            f"we asked {payment.amount_minor} {payment.currency}"
        )


def payment_fail(*, public_id, charge: ChargeResult, source: str) -> tuple[Payment, bool]:
    """The gateway declined. A decline never overrides a success (stale or reordered
    notifications change nothing). Returns (payment, newly_failed)."""
    customer_id = Payment.objects.values_list("customer_id", flat=True).get(public_id=public_id)
    with transaction.atomic():
        _lock_customer(customer_id)
        payment = Payment.objects.select_for_update().get(public_id=public_id)
        if payment.status not in (Payment.Status.PENDING, Payment.Status.PROCESSING):
            return payment, False
        payment.status = Payment.Status.FAILED
        payment.failed_at = timezone.now()
        payment.failure_code = charge.failure_code[:64]
        payment.failure_message = charge.failure_message[:255]
        if charge.gateway_ref and not payment.gateway_ref:
            payment.gateway_ref = charge.gateway_ref
        payment.save()
        events.record(
            verb="payment.failed", subject=payment, customer=payment.customer,
            actor_kind=Event.ActorKind.GATEWAY,
            data={"code": payment.failure_code, "message": payment.failure_message, "source": source},
        )
        card = payment.payment_method
        if card is not None and card.is_active and get_gateway(payment.gateway).card_refused_for_good(
                payment.failure_code):
            _payment_method_retire(card, payment=payment)
        handler = purposes.handlers_for(payment.purpose).on_failed
        if handler:
            handler(payment=payment)
    return payment, True


def _payment_method_retire(card: PaymentMethod, *, payment: Payment) -> None:
    """The bank refused the saved card for good (the gateway's hard decline): renewals stop
    charging it, and the customer pays with a card anew (which is then saved). The row
    stays, inactive, for the payments that name it. Runs under the customer's lock."""
    PaymentMethod.objects.filter(pk=card.pk).update(is_active=False)
    card.is_active = False
    events.record(verb="card.refused", subject=card, customer=payment.customer,
                  actor_kind=Event.ActorKind.GATEWAY,
                  data={"card_mask": card.card_mask, "code": payment.failure_code,
                        "payment": str(payment.public_id)})


def payment_apply_result(*, public_id, charge: ChargeResult, source: str) -> Payment:
    """Apply what the gateway says (notification, redirect look-up, reconciliation)."""
    if charge.status == ChargeStatus.APPROVED:
        return payment_settle(public_id=public_id, charge=charge, source=source)[0]
    if charge.status == ChargeStatus.DECLINED:
        return payment_fail(public_id=public_id, charge=charge, source=source)[0]
    if charge.status == ChargeStatus.PENDING:
        return payment_bank_deciding(public_id=public_id, source=source)
    return Payment.objects.get(public_id=public_id)



def payment_bank_deciding(*, public_id, source: str) -> Payment:
    """The gateway has the card and the bank is still deciding (3-D Secure, a slow issuer;
    the sandbox's delayed card): recorded once, so the personal account says so instead of
    offering the payment page again (subscriptions.selectors.payments_of). The decision
    arrives as any other (notification, look-up)."""
    customer_id = Payment.objects.values_list("customer_id", flat=True).get(public_id=public_id)
    with transaction.atomic():
        _lock_customer(customer_id)
        payment = Payment.objects.select_for_update().get(public_id=public_id)
        if payment.status == Payment.Status.PENDING and not events.for_subject(payment).filter(
                verb=events.BANK_DECIDING).exists():
            events.record(verb=events.BANK_DECIDING, subject=payment, customer=payment.customer,
                          actor_kind=Event.ActorKind.GATEWAY, data={"source": source})
    return payment


def payment_refresh_from_gateway(*, payment: Payment, source: str = "lookup") -> Payment:
    """Ask the gateway for the true status (customer came back before the webhook)."""
    if payment.status == Payment.Status.SUCCEEDED or payment.method == Payment.Method.BANK_TRANSFER:
        return payment
    charge = get_gateway(payment.gateway).lookup(invoice_id=str(payment.public_id))
    return payment_apply_result(public_id=payment.public_id, charge=charge, source=source)


def payment_expire(*, payment_id: int) -> bool:
    customer_id = Payment.objects.filter(pk=payment_id).values_list("customer_id", flat=True).first()
    if customer_id is None:
        return False
    with transaction.atomic():
        _lock_customer(customer_id)
        payment = Payment.objects.select_for_update(skip_locked=True).filter(
            pk=payment_id, status=Payment.Status.PENDING
        ).first()
        if payment is None:
            return False
        payment.status = Payment.Status.EXPIRED
        payment.failure_message = gettext_noop("The payment page expired")  # shown translated
        payment.save(update_fields=["status", "failure_message", "updated_at"])
        events.record(verb="payment.expired", subject=payment, customer=payment.customer)
        # For the purpose, an abandoned payment page is a payment that did not go through
        # (a past-due customer's own try closes, so the retry schedule goes on).
        handler = purposes.handlers_for(payment.purpose).on_failed
        if handler:
            handler(payment=payment)
    return True


def payment_not_payable(payment: Payment) -> str:
    """Why the hosted page must not take money for `payment` now ("" if it may): the
    merchant's check a gateway makes before charging (CloudPayments' Check, the sandbox's
    page). "expired": the page was abandoned or replaced by a newer one; "paid": the
    invoice is paid already; "account_closed": the customer's account was deleted since, or
    they asked for its deletion (a page opened before the request would buy a subscription
    that then blocks the deletion); "documents_changed": a new version of a document the
    page was opened with has come into force since (a page opened before midnight, paid
    after it): paying would accept a superseded offer, so the customer is sent to read the
    one in force."""
    from accounts.personal_data import deletion_requested
    from offer.services import documents_in_force

    if payment.status == Payment.Status.EXPIRED:
        return "expired"
    if payment.status == Payment.Status.SUCCEEDED:
        return "paid"
    if not payment.customer.is_active or deletion_requested(payment.customer):
        return "account_closed"
    if payment.pinned_documents and {p["kind"]: p["id"] for p in payment.pinned_documents} != {
            kind: document.pk for kind, document in documents_in_force().items()}:
        return "documents_changed"
    return ""


def _payment_method_save(*, customer, gateway: str, token: str, card_mask: str) -> PaymentMethod:
    method, created = PaymentMethod.objects.get_or_create(
        gateway=gateway, token=token, defaults={"customer": customer, "card_mask": card_mask}
    )
    # A card of theirs no longer in use (replaced by a newer one, or refused by the bank
    # for good: _payment_method_retire) that they have just paid with again is the card
    # the customer chose: it renews from now on, as a new one would.
    reused = not created and not method.is_active and method.customer_id == customer.pk
    if reused:
        PaymentMethod.objects.filter(pk=method.pk).update(is_active=True)
        method.is_active = True
    if created or reused:
        # The newest card replaces the older ones for renewals.
        PaymentMethod.objects.filter(customer=customer, is_active=True).exclude(pk=method.pk).update(
            is_active=False
        )
        events.record(verb="card.saved", subject=method, customer=customer,
                      actor_kind=Event.ActorKind.GATEWAY, data={"card_mask": card_mask})
    return method


ERASED_TOKEN = "erased:"


def payment_methods_erase(*, customer, by=None, actor_kind: str = Event.ActorKind.STAFF) -> int:
    """Erase the customer's saved card tokens (account deletion): nothing can charge those
    cards again. The rows stay, inactive, with their masks, for the payments that name
    them; the token is replaced by a marker (it records nothing, it is only a key to the
    card). Runs in the caller's transaction, the customer locked. Returns cards erased."""
    cards = list(PaymentMethod.objects.select_for_update().filter(customer=customer)
                 .exclude(token__startswith=ERASED_TOKEN).order_by("pk"))
    for card in cards:
        card.token = f"{ERASED_TOKEN}{card.pk}"
        card.is_active = False
    PaymentMethod.objects.bulk_update(cards, ["token", "is_active"])
    events.record_many([events.build(verb="card.erased", subject=card, customer=customer.pk, actor=by,
                                     actor_kind=actor_kind, data={"card_mask": card.card_mask})
                        for card in cards])
    return len(cards)


# --- The webhook inbox ---------------------------------------------------------------

def notification_store(*, gateway: str, notification: Notification, body: bytes,
                       headers: dict) -> tuple[IncomingNotification, bool]:
    """Store a verified notification once (unique gateway + event id). Committed on
    its own, before processing, so a crash in processing loses nothing. What is stored is
    its parsed fields without the card token, card details beyond the mask and the payer's
    personal data (gateways.base.redacted), with the SHA-256 of the body as received: a
    stored copy must not be able to charge the card, nor outlive the customer's deletion."""
    try:
        with transaction.atomic():
            row = IncomingNotification.objects.create(
                gateway=gateway, event_id=notification.event_id, event_type=notification.kind,
                body=json.dumps(redacted(notification.raw), ensure_ascii=False, default=str, sort_keys=True),
                body_sha256=hashlib.sha256(body).hexdigest(), headers=headers,
            )
        return row, True
    except IntegrityError:
        return IncomingNotification.objects.get(gateway=gateway, event_id=notification.event_id), False


def webhook_gateways() -> set[str]:
    """The gateways whose notifications are accepted: the one in use and any being retired."""
    return {settings.PAYMENT_GATEWAY, *settings.PAYMENT_GATEWAYS_RETIRED}


def notification_process(*, inbox_id: int, notification: Notification) -> str:
    """Apply a stored notification exactly once; concurrent duplicates wait on the row
    lock and then see it processed."""
    with transaction.atomic():
        row = IncomingNotification.objects.select_for_update().get(pk=inbox_id)
        if row.outcome in (IncomingNotification.Outcome.PROCESSED, IncomingNotification.Outcome.IGNORED):
            return row.outcome
        outcome = IncomingNotification.Outcome.IGNORED
        made_with = Payment.objects.filter(public_id=notification.invoice_id).values_list(
            "gateway", flat=True).first() if notification.charge and notification.invoice_id else None
        if made_with is not None and made_with != row.gateway:
            # Only the gateway that took the payment can say it was paid.
            log.warning("notification %s from %s names payment %s, made with %s: ignored",
                        row.event_id, row.gateway, notification.invoice_id, made_with)
            row.error = f"names a payment made with {made_with}, not {row.gateway}"
        elif made_with is not None:
            payment_apply_result(
                public_id=notification.invoice_id, charge=notification.charge,
                source=f"notification:{row.event_id}",
            )
            outcome = IncomingNotification.Outcome.PROCESSED
        row.outcome = outcome
        row.processed_at = timezone.now()
        row.save(update_fields=["outcome", "processed_at", "error"])
    return outcome


def notification_mark_failed(*, inbox_id: int, error: str) -> None:
    IncomingNotification.objects.filter(pk=inbox_id).exclude(
        outcome=IncomingNotification.Outcome.PROCESSED
    ).update(outcome=IncomingNotification.Outcome.FAILED, error=error[:2000])


# --- Refunds (the decision lives in `refunds`; billing moves the money) --------------

class RefundRefused(Exception):
    pass


class RefundDeclinedByGateway(RefundRefused):
    """The gateway answered no to this key: nothing went back under it."""


class RefundOutcomeUnknown(RefundRefused):
    """Not sent again: an earlier try's answer was lost and the gateway no longer
    remembers its key, so the money may or may not have gone back."""


def payment_refund_execute(*, payment_id: int, amount_minor: int, idempotency_key: str,
                           not_before=None) -> str:
    """Send a refund to the gateway (NO transaction open: call after committing the
    intent) and return the gateway's refund reference. The gateway de-duplicates on
    `idempotency_key`, so a retry after a crash or timeout never refunds twice.
    Raises GatewayError when the outcome is unknown, RefundRefused on a refusal — also when
    the first try (`not_before`) is older than the gateway remembers keys for, since a
    retry could then refund twice."""
    payment = Payment.objects.get(pk=payment_id)
    if not payment.is_paid or not payment.gateway_ref:
        raise RefundRefused("only a settled gateway payment can be refunded")
    if not_before is not None:
        window = get_gateway(payment.gateway).idempotency_window_seconds
        if window is not None and (timezone.now() - not_before).total_seconds() > window - 300:
            raise RefundOutcomeUnknown(
                "outcome unknown beyond the gateway's idempotency window: check the refund in the "
                "gateway's console before retrying by hand"
            )
    result = get_gateway(payment.gateway).refund(
        gateway_ref=payment.gateway_ref, amount_minor=amount_minor, currency=payment.currency,
        idempotency_key=idempotency_key,
    )
    if not result.approved:
        raise RefundDeclinedByGateway(result.failure_message or "the gateway refused the refund")
    return result.gateway_ref or ""


def payment_refund_record(*, payment_id: int, amount_minor: int, gateway_ref: str,
                          refund_key: str, by=None, refunded_at=None) -> Payment:
    """Record money returned on a payment. Call inside the refund's own transaction
    (after locking the customer); the CHECK constraint keeps refunded <= paid."""
    payment = Payment.objects.select_for_update().get(pk=payment_id)
    if amount_minor <= 0 or amount_minor > payment.refundable_minor:
        raise RefundRefused(
            f"refund of {amount_minor} exceeds what is refundable ({payment.refundable_minor})"
        )
    payment.refunded_minor += amount_minor
    payment.save(update_fields=["refunded_minor", "updated_at"])
    events.record(verb="payment.refunded", subject=payment, customer=payment.customer, actor=by,
                  actor_kind=Event.ActorKind.STAFF if by else Event.ActorKind.SYSTEM,
                  data={"amount_minor": amount_minor, "currency": payment.currency,
                        "refunded_minor": payment.refunded_minor,
                        "gateway_ref": gateway_ref, "refund_key": refund_key})
    documents.refund_note_create(payment=payment, amount_minor=amount_minor, refund_key=refund_key,
                                 gateway_ref=gateway_ref, refunded_at=refunded_at)
    return payment
