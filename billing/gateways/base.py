"""The payment gateway interface. No card data ever passes through the portal: the
customer types the card on the gateway's hosted page; we keep only its token."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from django.db import close_old_connections, connection

log = logging.getLogger(__name__)


class GatewayError(Exception):
    """A transport or protocol failure: the outcome is UNKNOWN (resolve by lookup)."""


class SignatureError(Exception):
    """An incoming notification failed verification."""


# Fields of an incoming notification that are never stored (billing.services.notification_store):
# what could charge the card again (its token), more of the card than its mask, and the
# payer's personal data the gateway echoes (name, e-mail, phone, IP address and its place).
# Compared case-insensitively, at any depth.
NOT_STORED_FIELDS = frozenset(name.lower() for name in (
    "Token", "card_token", "CardFirstSix", "CardExpDate", "CardExp", "Name", "CardHolderName", "Email",
    "Phone", "IpAddress", "IpCountry", "IpCity", "IpRegion", "IpDistrict", "IpLatitude", "IpLongitude",
    "ip", "cardholder",
))


def redacted(fields):
    """`fields` (a parsed notification) without NOT_STORED_FIELDS: each such value becomes
    "[removed]" (so the record still shows the gateway sent it)."""
    if isinstance(fields, dict):
        return {key: "[removed]" if str(key).lower() in NOT_STORED_FIELDS and value not in (None, "")
                else redacted(value) for key, value in fields.items()}
    if isinstance(fields, list):
        return [redacted(value) for value in fields]
    return fields


class ChargeStatus(StrEnum):
    APPROVED = "approved"
    DECLINED = "declined"
    PENDING = "pending"  # the gateway has not decided yet
    NOT_FOUND = "not_found"


@dataclass(frozen=True)
class HostedPayment:
    redirect_url: str
    gateway_ref: str | None = None


@dataclass(frozen=True)
class ChargeResult:
    status: ChargeStatus
    gateway_ref: str | None = None
    amount_minor: int | None = None
    currency: str | None = None
    paid_at: datetime | None = None
    card_token: str | None = None
    card_mask: str = ""
    failure_code: str = ""
    failure_message: str = ""


@dataclass(frozen=True)
class RefundResult:
    approved: bool
    gateway_ref: str | None = None
    failure_message: str = ""


@dataclass(frozen=True)
class Notification:
    """A verified, parsed notification. `kind` is one of payment.succeeded,
    payment.failed, refund.succeeded, check, other."""

    event_id: str
    kind: str
    invoice_id: str | None
    charge: ChargeResult | None = None
    raw: dict = field(default_factory=dict)


@dataclass(frozen=True)
class PaymentRequest:
    invoice_id: str  # our Payment.public_id
    amount_minor: int
    currency: str
    description: str
    customer_ref: str
    customer_email: str
    return_url: str
    idempotency_key: str


class Gateway:
    """What every adapter implements. Each outbound call has a timeout, a retry
    policy where it is safe, and sends our idempotency key."""

    name: str = ""
    # The HTTP answer for an accepted notification (some gateways demand a body).
    ack_content_type = "application/json"
    # How long the gateway remembers our idempotency keys (None: for ever). Past that, a
    # retry of a call whose answer was lost could act twice, so callers stop retrying.
    idempotency_window_seconds: int | None = None

    def start_hosted_payment(self, request: PaymentRequest) -> HostedPayment:
        raise NotImplementedError

    def charge_token(self, request: PaymentRequest, *, token: str) -> ChargeResult:
        raise NotImplementedError

    def charge_tokens(self, charges: list[tuple[PaymentRequest, str]], *,
                      threads: int = 1) -> list[ChargeResult | Exception]:
        """Charge many saved tokens (a renewal batch): one answer per (request, token), in
        order — the ChargeResult, or the exception the charge raised (GatewayError: the
        outcome is unknown; anything else is a bug, logged here). Each charge keeps its own
        idempotency key. Here: `charge_token` for each, up to `threads` calls in flight so
        the gateway's waits overlap. An adapter that can do better for a batch overrides."""
        answers: list[ChargeResult | Exception | None] = [None] * len(charges)
        work = iter(enumerate(charges))
        lock = threading.Lock()

        def charge_all():
            while True:
                with lock:
                    item = next(work, None)
                if item is None:
                    return
                i, (request, token) = item
                try:
                    answers[i] = self.charge_token(request, token=token)
                except GatewayError as exc:
                    answers[i] = exc
                except Exception as exc:
                    log.exception("charging invoice %s at %s failed", request.invoice_id, self.name)
                    answers[i] = exc

        threads = max(1, min(threads, len(charges)))
        if threads == 1:
            charge_all()
        else:
            pool = [threading.Thread(target=self._in_thread, args=(charge_all,)) for _ in range(threads)]
            for t in pool:
                t.start()
            for t in pool:
                t.join()
        return answers  # type: ignore[return-value]

    def _in_thread(self, work) -> None:
        """Run `work` in a pool thread: Django gives each thread its own database
        connection (the sandbox's ledger, anything an adapter reads), closed at the end."""
        close_old_connections()
        try:
            work()
        finally:
            connection.close()

    def refund(self, *, gateway_ref: str, amount_minor: int, currency: str,
               idempotency_key: str) -> RefundResult:
        raise NotImplementedError

    def lookup(self, *, invoice_id: str) -> ChargeResult:
        """The true status of our payment at the gateway (reconciliation)."""
        raise NotImplementedError

    def card_refused_for_good(self, failure_code: str) -> bool:
        """Whether a decline with `failure_code` means the saved card must not be charged
        again (the customer has to pay with a card anew). No, unless the gateway says so."""
        return False

    def parse_notification(self, *, body: bytes, headers: dict[str, str]) -> Notification:
        """Verify the signature over the raw body (constant time) and parse.
        Raises SignatureError when the notification is not authentic."""
        raise NotImplementedError

    def ack_body(self, notification: Notification | None, *, accepted: bool, code: int = 0) -> bytes:
        return b'{"ok": true}' if accepted else b'{"ok": false}'
