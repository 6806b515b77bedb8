"""The built-in sandbox gateway: behaves like a hosted payment page so everything runs
offline. It keeps its own ledger (SandboxTransaction) and talks to the portal only as a
real gateway would: a redirect to its page, a redirect back, and a signed
server-to-server notification.

Test cards (typed on the sandbox page):
  4242 4242 4242 4242  approved; renewals with its token are approved
  4000 0000 0000 0002  declined (insufficient funds)
  4000 0000 0000 0341  approved now; later charges of its token are declined
  4000 0000 0000 0077  approved after a delay (SANDBOX_DELAYED_APPROVAL_SECONDS)
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import time
import uuid

from django.conf import settings
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext_noop

from soldee.bulk import row_insert_new

from .base import (
    ChargeResult,
    ChargeStatus,
    Gateway,
    GatewayError,
    HostedPayment,
    Notification,
    PaymentRequest,
    RefundResult,
    SignatureError,
)

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Sandbox-Signature"

CARD_APPROVE = "4242424242424242"
CARD_DECLINE = "4000000000000002"
CARD_DECLINE_RENEWALS = "4000000000000341"
CARD_DELAYED = "4000000000000077"
CARD_REFUND_REFUSED = "4000000000005126"  # the card account closes: refunds to it are refused for good
TEST_CARDS = {
    CARD_APPROVE: "approve",
    CARD_DECLINE: "decline",
    CARD_DECLINE_RENEWALS: "approve, decline renewals",
    CARD_DELAYED: "approve after a delay",
    CARD_REFUND_REFUSED: "approve, refuse refunds (to rehearse a refund paid by bank transfer)",
}
# What each test card does, as the sandbox page tells the payer (in the page's language).
TEST_CARD_HINTS = {
    CARD_APPROVE: gettext_noop("approved; renewal charges to it are approved too"),
    CARD_DECLINE: gettext_noop("declined: insufficient funds"),
    CARD_DECLINE_RENEWALS: gettext_noop("approved; renewal charges to it are declined"),
    CARD_DELAYED: gettext_noop("approved after a delay"),
    CARD_REFUND_REFUSED: gettext_noop("approved; refunds to it are refused (to rehearse a refund paid by bank "
                                      "transfer)"),
}
REFUND_REFUSED_MESSAGE = "The card account is closed: a refund cannot be made to this card"
DECLINE_CODE = "insufficient_funds"
DECLINE_MESSAGE = gettext_noop("Insufficient funds")  # stored in English, shown translated
DOCUMENTS_CHANGED = gettext_noop("The offer's documents changed after this page was opened: read the versions "
                                 "now in force and pay again")
# What our own check (not the bank) answers the page: payment_not_payable's reasons.
# Stored in English (they go into the notification), shown translated.
MERCHANT_REFUSALS = {"expired": gettext_noop("The payment page expired"),
                     "paid": gettext_noop("The invoice is already paid"),
                     "account_closed": gettext_noop("The customer's account is closed"),
                     "documents_changed": DOCUMENTS_CHANGED}


def page_language(language: str | None) -> str:
    """The language the hosted page is shown in: one of LANGUAGES, or "" (none given)."""
    code = (language or "").split("-")[0].lower()
    return code if code in dict(settings.LANGUAGES) else ""


def sign(body: bytes, secret: str | None = None) -> str:
    key = (secret if secret is not None else settings.SANDBOX_WEBHOOK_SECRET).encode()
    return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()


def _ledger():
    from billing.models import SandboxTransaction

    return SandboxTransaction


def _result(txn) -> ChargeResult:
    Txn = _ledger()
    if txn is None:
        return ChargeResult(status=ChargeStatus.NOT_FOUND)
    if txn.status == Txn.Status.AWAITING_CARD:
        # Like a real hosted page: nothing is at the gateway until the card is submitted.
        return ChargeResult(status=ChargeStatus.NOT_FOUND)
    status = {
        Txn.Status.APPROVED: ChargeStatus.APPROVED,
        Txn.Status.DECLINED: ChargeStatus.DECLINED,
    }.get(txn.status, ChargeStatus.PENDING)
    return ChargeResult(
        status=status,
        gateway_ref=str(txn.id),
        amount_minor=txn.amount_minor,
        currency=txn.currency,
        paid_at=txn.decided_at if status == ChargeStatus.APPROVED else None,
        card_token=txn.token or None,
        card_mask=f"•••• {txn.card_last4}" if txn.card_last4 else "",
        failure_code=DECLINE_CODE if status == ChargeStatus.DECLINED else "",
        failure_message=txn.reason if status == ChargeStatus.DECLINED else "",
    )


def _token_charge(request: PaymentRequest, token: str, last4: str | None):
    """The ledger row of a token charge: declined when the token is unknown (or its card
    never had digits) or belongs to the test card whose renewals are declined."""
    Txn = _ledger()
    declines = not last4 or last4 == CARD_DECLINE_RENEWALS[-4:]
    return Txn(
        kind=Txn.Kind.TOKEN_CHARGE,
        idempotency_key=f"charge:{request.idempotency_key}",
        invoice_id=request.invoice_id,
        amount_minor=request.amount_minor,
        currency=request.currency,
        description=request.description[:255],
        card_last4=last4 or "",
        token=token,
        status=Txn.Status.DECLINED if declines else Txn.Status.APPROVED,
        reason=DECLINE_MESSAGE if declines else "",
        decided_at=timezone.now(),
    )


def notification_body(txn, *, event_id: str | None = None) -> bytes:
    result = _result(txn)
    kind = {
        ChargeStatus.APPROVED: "refund.succeeded" if txn.kind == "refund" else "payment.succeeded",
        ChargeStatus.DECLINED: "payment.failed",
    }[result.status]
    payload = {
        "event_id": event_id or f"evt_{uuid.uuid4().hex}",
        "type": kind,
        "created": timezone.now().isoformat(),
        "invoice_id": txn.invoice_id,
        "transaction_id": str(txn.id),
        "amount_minor": txn.amount_minor,
        "currency": txn.currency,
        "card_token": txn.token or None,
        "card_mask": result.card_mask,
        "paid_at": result.paid_at.isoformat() if result.paid_at else None,
        "reason_code": result.failure_code,
        "reason": result.failure_message,
    }
    return json.dumps(payload, separators=(",", ":")).encode()


def _merchant_check(txn) -> str:
    """Before taking the money, ask the merchant whether the invoice may still be paid, as
    CloudPayments' Check does: a payment page superseded by a newer one (expired), or an
    invoice paid already, is refused. Returns the refusal reason, or ""."""
    from billing.models import Payment
    from billing.services import payment_not_payable

    payment = Payment.objects.select_related("customer").filter(public_id=txn.invoice_id).first()
    why = payment_not_payable(payment) if payment is not None else ""
    return MERCHANT_REFUSALS.get(why, "")


def decide_hosted(txn_id, card_number: str) -> None:
    """The customer submitted a card on the sandbox page: decide and notify."""
    Txn = _ledger()
    card = "".join(ch for ch in card_number if ch.isdigit())
    with transaction.atomic():
        txn = Txn.objects.select_for_update().get(pk=txn_id)
        if txn.status != Txn.Status.AWAITING_CARD:
            return
        txn.card_last4 = card[-4:] if len(card) >= 4 else ""
        behaviour = TEST_CARDS.get(card, "decline" if card else "decline")
        refusal = _merchant_check(txn)
        if refusal:  # the merchant's Check said no (as CloudPayments asks before charging)
            txn.status, txn.reason, txn.decided_at = Txn.Status.DECLINED, refusal, timezone.now()
        elif behaviour == "decline":
            txn.status, txn.reason, txn.decided_at = Txn.Status.DECLINED, DECLINE_MESSAGE, timezone.now()
        elif behaviour == "approve after a delay":
            txn.status = Txn.Status.PROCESSING
            txn.token = f"sbx_tok_{secrets.token_hex(12)}"
        else:
            txn.status, txn.decided_at = Txn.Status.APPROVED, timezone.now()
            txn.token = f"sbx_tok_{secrets.token_hex(12)}"
        txn.save()
        from billing import tasks

        if txn.status == Txn.Status.PROCESSING:
            transaction.on_commit(
                lambda: tasks.sandbox_delayed_approve.apply_async(
                    args=[str(txn.id)], countdown=settings.SANDBOX_DELAYED_APPROVAL_SECONDS
                )
            )
        else:
            transaction.on_commit(lambda: tasks.sandbox_notify.delay(str(txn.id)))


def approve_delayed(txn_id) -> None:
    Txn = _ledger()
    with transaction.atomic():
        txn = Txn.objects.select_for_update().get(pk=txn_id)
        if txn.status != Txn.Status.PROCESSING:
            return
        txn.status, txn.decided_at = Txn.Status.APPROVED, timezone.now()
        txn.save()
        from billing import tasks

        transaction.on_commit(lambda: tasks.sandbox_notify.delay(str(txn.id)))


class SandboxGateway(Gateway):
    name = "sandbox"

    def _simulated_latency(self):
        latency = getattr(settings, "SANDBOX_LATENCY_MS", 0)
        if latency:
            time.sleep(latency / 1000)

    def start_hosted_payment(self, request: PaymentRequest) -> HostedPayment:
        """The hosted page in the payer's language (the one active now, as CloudPayments
        is given CultureName); the same page again, for the same key, in the language of
        the latest call."""
        Txn = _ledger()
        language = page_language(translation.get_language())
        txn, created = Txn.objects.get_or_create(
            idempotency_key=f"hosted:{request.idempotency_key}",
            defaults={
                "kind": Txn.Kind.HOSTED,
                "invoice_id": request.invoice_id,
                "amount_minor": request.amount_minor,
                "currency": request.currency,
                "description": request.description[:255],
                "return_url": request.return_url,
                "status": Txn.Status.AWAITING_CARD,
                "language": language,
            },
        )
        if not created and language and txn.language != language:
            Txn.objects.filter(pk=txn.pk).update(language=language)
        url = settings.SITE_URL + reverse("billing:sandbox_page", kwargs={"txn_id": txn.id})
        return HostedPayment(redirect_url=url, gateway_ref=str(txn.id))

    def charge_token(self, request: PaymentRequest, *, token: str) -> ChargeResult:
        Txn = _ledger()
        self._simulated_latency()
        last4 = Txn.objects.filter(token=token).order_by("created_at").values_list("card_last4", flat=True).first()
        txn = _token_charge(request, token, last4)
        if not row_insert_new(txn, unique_field="idempotency_key"):
            # the same idempotency key: the first answer, again
            txn = Txn.objects.get(idempotency_key=txn.idempotency_key)
        # Fault injection for reliability tests: the gateway has charged, the answer is slow
        # to come back (a worker killed now dies between the charge and our commit).
        after = getattr(settings, "SANDBOX_LATENCY_AFTER_CHARGE_MS", 0)
        if after:
            time.sleep(after / 1000)
        return _result(txn)

    def charge_tokens(self, charges: list[tuple[PaymentRequest, str]], *,
                      threads: int = 1) -> list[ChargeResult | Exception]:
        """An instant sandbox (no simulated latency or fault) decides a whole batch in one
        ledger transaction: its ledger shares our database, and one commit per charge would
        bill the portal for work a remote gateway does on its own machines. Same answers as
        `charge_token` one by one; a failed ledger write charged nothing, and says so as a
        GatewayError for each (outcome unknown to the caller: reconciliation looks it up)."""
        if (not charges or getattr(settings, "SANDBOX_LATENCY_MS", 0)
                or getattr(settings, "SANDBOX_LATENCY_AFTER_CHARGE_MS", 0)):
            return super().charge_tokens(charges, threads=threads)
        Txn = _ledger()
        try:
            with transaction.atomic():
                first = Txn.objects.filter(token__in={token for _r, token in charges}).order_by("token", "created_at")
                last4: dict[str, str] = {}
                if connection.vendor == "postgresql":
                    first = first.distinct("token")  # one row per token, not its whole history
                for token, card_last4 in first.values_list("token", "card_last4"):
                    last4.setdefault(token, card_last4)
                Txn.objects.bulk_create([_token_charge(request, token, last4.get(token)) for request, token in charges],
                                        ignore_conflicts=True)  # a key seen before keeps its first answer
                stored = {t.idempotency_key: t for t in Txn.objects.filter(
                    idempotency_key__in=[f"charge:{request.idempotency_key}" for request, _t in charges])}
            return [_result(stored[f"charge:{request.idempotency_key}"]) for request, _t in charges]
        except Exception as exc:  # (if the commit itself failed, the outcome is truly unknown)
            log.exception("sandbox: a batch of %s token charges failed", len(charges))
            return [GatewayError(f"sandbox ledger: {exc}") for _c in charges]

    def refund(self, *, gateway_ref, amount_minor, currency, idempotency_key) -> RefundResult:
        Txn = _ledger()
        self._simulated_latency()
        parent = Txn.objects.filter(pk=gateway_ref).first()
        if parent is None or parent.status != Txn.Status.APPROVED:
            return RefundResult(approved=False, failure_message="original payment not found")
        refused = parent.card_last4 == CARD_REFUND_REFUSED[-4:]  # staff can rehearse the refused-refund path
        txn, _ = Txn.objects.get_or_create(
            idempotency_key=f"refund:{idempotency_key}",
            defaults={
                "kind": Txn.Kind.REFUND, "invoice_id": parent.invoice_id, "parent": parent,
                "amount_minor": amount_minor, "currency": currency,
                "status": Txn.Status.DECLINED if refused else Txn.Status.APPROVED, "decided_at": timezone.now(),
                "reason": REFUND_REFUSED_MESSAGE if refused else "",
            },
        )
        if txn.status != Txn.Status.APPROVED:
            return RefundResult(approved=False, failure_message=txn.reason)
        return RefundResult(approved=txn.status == Txn.Status.APPROVED, gateway_ref=str(txn.id))

    def lookup(self, *, invoice_id: str) -> ChargeResult:
        Txn = _ledger()
        txns = list(
            Txn.objects.filter(invoice_id=invoice_id).exclude(kind=Txn.Kind.REFUND).order_by("-created_at")
        )
        approved = next((t for t in txns if t.status == Txn.Status.APPROVED), None)
        return _result(approved or (txns[0] if txns else None))

    def parse_notification(self, *, body: bytes, headers: dict[str, str]) -> Notification:
        given = headers.get(SIGNATURE_HEADER.lower(), "")
        secret = settings.SANDBOX_WEBHOOK_SECRET
        # Bytes: compare_digest refuses a str with non-ASCII characters (a 500 for any caller).
        if not given or not secret or not hmac.compare_digest(given.encode("utf-8"),
                                                              sign(body, secret).encode("ascii")):
            raise SignatureError("missing or invalid sandbox signature")
        try:
            data = json.loads(body)
            event_id, kind = str(data["event_id"]), str(data["type"])
        except (ValueError, KeyError, TypeError) as exc:
            raise SignatureError(f"signed but malformed notification: {exc}") from exc
        charge = None
        if kind in ("payment.succeeded", "payment.failed"):
            charge = ChargeResult(
                status=ChargeStatus.APPROVED if kind == "payment.succeeded" else ChargeStatus.DECLINED,
                gateway_ref=data.get("transaction_id"),
                amount_minor=data.get("amount_minor"),
                currency=data.get("currency"),
                paid_at=parse_datetime(data["paid_at"]) if data.get("paid_at") else None,
                card_token=data.get("card_token"),
                card_mask=data.get("card_mask") or "",
                failure_code=data.get("reason_code") or "",
                failure_message=data.get("reason") or "",
            )
        return Notification(
            event_id=event_id, kind=kind, invoice_id=data.get("invoice_id"), charge=charge, raw=data
        )
