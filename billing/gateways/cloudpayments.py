"""CloudPayments adapter (docs/cloudpayments.md; facts and sources in
docs/research/cloudpayments.md).

Outbound: JSON over HTTPS with HTTP Basic auth (Public ID / API secret). Every answer is
an envelope {"Success", "Message", "Model"}; the transaction's fate is Model.Status, never
Success. Timeouts and 5xx are "outcome unknown" (GatewayError): we never retry them blind,
the reconciliation sweep asks /v2/payments/find. Only a failed *connection* (the request
never left) or refused as over the concurrent-request limit (HTTP 429) is retried, with
a short backoff. Mutating calls send X-Request-ID, which
CloudPayments de-duplicates for an hour.

Inbound: Check / Pay / Fail / Refund / Recurrent notifications, authenticated by
Content-HMAC = base64(HMAC-SHA256(api_secret, raw body)). CloudPayments posts no "type"
field (each type has its own URL in the merchant console, and ours all point to one
URL), so the type is read from the signed body by the fields the protocol requires of
each type; a payment is settled only on a body that carries Pay's own required field
(GatewayName). The secret is never logged.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
import time
import uuid
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from urllib.parse import parse_qsl, unquote_plus

import httpx
from babel.numbers import get_currency_precision
from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext_noop

from soldee.money import minor_to_decimal

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

DEFAULT_API_URL = "https://api.cloudpayments.ru"
SIGNATURE_HEADER = "content-hmac"  # HMAC over the raw (URL-encoded) body
DECODED_SIGNATURE_HEADER = "x-content-hmac"  # HMAC over the URL-decoded body

# Check answers (developers.cloudpayments.ru #check): anything but 0 declines the payment.
CHECK_OK = 0
CHECK_BAD_INVOICE = 10
CHECK_BAD_ACCOUNT = 11
CHECK_BAD_AMOUNT = 12
CHECK_REFUSED = 13
CHECK_EXPIRED = 20

# ReasonCodes of a payment CloudPayments declined because of our answer to its Check
# ("Коды обработки ответов на check уведомление", developers.cloudpayments.ru): 3001-3004
# and 3008 are our codes 10, 11, 12, 20 and 13; 3005-3007 an answer it could not read or
# did not get. Not the bank's declines: the Fail is worded as the refusal of our check.
CHECK_REFUSAL_CODES = frozenset({"3001", "3002", "3003", "3004", "3005", "3006", "3007", "3008"})
CHECK_NOT_CONFIRMED = gettext_noop("Our site could not confirm the payment; please try again")

# Declines after which the same card must not be charged again: "Безусловно негативные",
# for which regular payments must not be sent again until the card is set up anew
# (developers.cloudpayments.ru #kody-oshibok). See card_refused_for_good.
HARD_DECLINE_CODES = frozenset({"5001", "5003", "5005", "5012", "5017", "5033", "5034", "5057"})

# What the customer reads on the payment page (stored on the payment, like the sandbox's).
# Stored in English on the payment; shown translated (Payment.failure_display).
REASON_MESSAGES = {
    "5051": gettext_noop("Insufficient funds"),
    "5054": gettext_noop("The card has expired"),
    "5033": gettext_noop("The card has expired"),
    "5014": gettext_noop("Invalid card number"),
    "5082": gettext_noop("Incorrect CVV code"),
    "5006": gettext_noop("Incorrect CVV code or a network error"),
    "5012": gettext_noop("The card cannot be used for online payments"),
    "5057": gettext_noop("The card cannot be used for this payment"),
    "5058": gettext_noop("The card cannot be used for this payment"),
    "5036": gettext_noop("The card cannot be used for this payment"),
    "5062": gettext_noop("The card cannot be used for this payment"),
    "5061": gettext_noop("The card limit is exceeded"),
    "5065": gettext_noop("Too many payments with this card; try later"),
    "5013": gettext_noop("The amount is not allowed for this card"),
    "5206": gettext_noop("3-D Secure authentication failed"),
    "5207": gettext_noop("3-D Secure authentication is unavailable"),
    "5091": gettext_noop("The bank is unavailable; try later"),
    "5092": gettext_noop("The bank is unavailable; try later"),
    "5096": gettext_noop("The bank is unavailable; try later"),
}
GENERIC_DECLINE = gettext_noop("The bank declined the payment")

APPROVED_STATUSES = {"Completed", "Authorized"}
DECLINED_STATUSES = {"Declined", "Cancelled"}

_CULTURES = {"ru": "ru-RU", "en": "en-US", "kk": "kk-KZ"}
_DOTNET_DATE = re.compile(r"/Date\((-?\d+)\)/")
_CONNECT_RETRIES = 2  # extra attempts, only when the connection was never made
_BACKOFF_SECONDS = 0.5


def _sleep(seconds: float) -> None:  # a seam for tests (they never sleep)
    time.sleep(seconds)


def _setting(name: str, default=None):
    return getattr(settings, name, default)


def signature(body: bytes, secret: str) -> str:
    """base64(HMAC-SHA256(secret, body)), as CloudPayments signs its notifications."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def _signature_matches(given: str, body: bytes, secret: str) -> bool:
    return hmac.compare_digest(given.strip().encode("utf-8"), signature(body, secret).encode("ascii"))


def to_minor(amount, currency: str) -> int:
    """A major-unit amount (number or "29900.00") to integer minor units, exactly."""
    try:
        value = Decimal(str(amount).strip().replace(",", "."))
    except (InvalidOperation, ValueError) as exc:
        raise ValueError(f"not an amount: {amount!r}") from exc
    scaled = value.scaleb(get_currency_precision(currency or "KZT"))
    return int(scaled.to_integral_value(rounding=ROUND_HALF_UP))


def _major(amount_minor: int, currency: str) -> float:
    # JSON number; shortest-repr floats print the exact 2-decimal value.
    return float(minor_to_decimal(amount_minor, currency))


def _parse_datetime(value) -> datetime | None:
    """'/Date(1407584981000)/', an ISO string, or 'yyyy-MM-dd HH:mm:ss' (all UTC)."""
    if not value:
        return None
    text = str(value)
    match = _DOTNET_DATE.search(text)
    if match:
        return datetime.fromtimestamp(int(match.group(1)) / 1000, tz=UTC)
    try:
        parsed = datetime.fromisoformat(text.replace(" ", "T").replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _our_invoice_id(value) -> str | None:
    """Our invoices are Payment.public_id UUIDs; anything else (a payment made in the
    merchant console, say) is not ours."""
    try:
        return str(uuid.UUID(str(value))) if value not in (None, "") else None
    except ValueError:
        return None


def _text(value) -> str:
    return "" if value is None else str(value)


def _decline(model: dict, *, code: str | None = None, message: str | None = None) -> ChargeResult:
    reason_code = code if code is not None else _text(model.get("ReasonCode"))
    return ChargeResult(
        status=ChargeStatus.DECLINED,
        gateway_ref=_text(model.get("TransactionId")) or None,
        amount_minor=None,
        currency=model.get("Currency"),
        failure_code=reason_code[:64],
        failure_message=(
            message
            or _text(model.get("CardHolderMessage"))
            or REASON_MESSAGES.get(reason_code)
            or _text(model.get("Reason"))
            or GENERIC_DECLINE
        )[:255],
    )


def _charge_from_model(model: dict) -> ChargeResult:
    """A transaction object (API Model or notification fields) to our ChargeResult."""
    if model.get("AcsUrl") or model.get("PaReq"):
        # The card asks for 3-D Secure: a merchant-initiated charge cannot answer it.
        return _decline(model, code="3ds_required", message="The bank asks for 3-D Secure confirmation")
    status = _text(model.get("Status"))
    if status in APPROVED_STATUSES:
        currency = _text(model.get("Currency")) or None
        last4 = _text(model.get("CardLastFour"))
        amount = model.get("Amount")
        return ChargeResult(
            status=ChargeStatus.APPROVED,
            gateway_ref=_text(model.get("TransactionId")) or None,
            amount_minor=to_minor(amount, currency or "KZT") if amount not in (None, "") else None,
            currency=currency,
            paid_at=(
                _parse_datetime(model.get("ConfirmDate")) or _parse_datetime(model.get("AuthDate"))
                or _parse_datetime(model.get("ConfirmDateIso")) or _parse_datetime(model.get("AuthDateIso"))
                or _parse_datetime(model.get("DateTime")) or _parse_datetime(model.get("CreatedDate"))
                or _parse_datetime(model.get("CreatedDateIso"))
            ),
            card_token=_text(model.get("Token")) or None,
            card_mask=f"•••• {last4}" if last4 else "",
        )
    if status in DECLINED_STATUSES:
        return _decline(model, code=None if status == "Declined" else "cancelled")
    reason = _text(model.get("ReasonCode"))
    if not status and reason and reason != "0":
        return _decline(model)
    # AwaitingAuthentication, or a status we do not know: not decided yet.
    return ChargeResult(status=ChargeStatus.PENDING, gateway_ref=_text(model.get("TransactionId")) or None)


class CloudPaymentsGateway(Gateway):
    name = "cloudpayments"
    ack_content_type = "application/json"
    idempotency_window_seconds = 3600  # X-Request-ID is remembered for one hour

    # --- configuration ------------------------------------------------------------------

    @property
    def public_id(self) -> str:
        return _setting("CLOUDPAYMENTS_PUBLIC_ID", "") or ""

    @property
    def api_secret(self) -> str:
        return _setting("CLOUDPAYMENTS_API_SECRET", "") or ""

    @property
    def api_url(self) -> str:
        return (_setting("CLOUDPAYMENTS_API_URL", DEFAULT_API_URL) or DEFAULT_API_URL).rstrip("/")

    @property
    def timeout(self) -> float:
        return float(_setting("CLOUDPAYMENTS_TIMEOUT_SECONDS", 10) or 10)

    @property
    def notification_format(self) -> str:
        return (_setting("CLOUDPAYMENTS_NOTIFICATION_FORMAT", "form") or "form").lower()

    # --- transport ----------------------------------------------------------------------

    def _post(self, path: str, payload: dict, *, request_id: str | None = None) -> dict:
        """POST a JSON body; return the decoded envelope. Raises GatewayError when the
        answer is unknown (timeout, transport error, 5xx, 401/429, not JSON)."""
        if not self.public_id or not self.api_secret:
            raise GatewayError("CloudPayments is not configured (CLOUDPAYMENTS_PUBLIC_ID / _API_SECRET)")
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if request_id:
            headers["X-Request-ID"] = request_id
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        url = self.api_url + path
        attempt = 0
        with httpx.Client(auth=(self.public_id, self.api_secret), timeout=self.timeout) as client:
            while True:
                try:
                    response = client.post(url, content=body, headers=headers)
                    if response.status_code == 429 and attempt < _CONNECT_RETRIES:
                        # Over the terminal's concurrent-request limit (5 test, 30 live):
                        # refused before processing, so trying again is safe (same key).
                        _sleep(_BACKOFF_SECONDS * (2 ** attempt))
                        attempt += 1
                        continue
                    break
                except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                    # The request never reached CloudPayments: safe to try again.
                    if attempt >= _CONNECT_RETRIES:
                        raise GatewayError(f"CloudPayments {path}: cannot connect ({type(exc).__name__})") from exc
                    _sleep(_BACKOFF_SECONDS * (2 ** attempt))
                    attempt += 1
                except httpx.TimeoutException as exc:
                    raise GatewayError(
                        f"CloudPayments {path}: no answer in {self.timeout:g}s; outcome unknown"
                    ) from exc
                except httpx.HTTPError as exc:
                    raise GatewayError(f"CloudPayments {path}: {type(exc).__name__}; outcome unknown") from exc
        if response.status_code in (401, 403):
            raise GatewayError(f"CloudPayments {path}: HTTP {response.status_code} (check the Public ID / API secret)")
        if response.status_code == 429:
            raise GatewayError(f"CloudPayments {path}: HTTP 429, too many concurrent requests")
        if response.status_code != 200:
            raise GatewayError(f"CloudPayments {path}: HTTP {response.status_code}; outcome unknown")
        try:
            data = json.loads(response.content, parse_float=Decimal)
        except ValueError as exc:
            raise GatewayError(f"CloudPayments {path}: the answer is not JSON") from exc
        if not isinstance(data, dict):
            raise GatewayError(f"CloudPayments {path}: unexpected answer")
        return data

    # --- outbound -----------------------------------------------------------------------

    def start_hosted_payment(self, request: PaymentRequest) -> HostedPayment:
        """A payment link (orders/create): the customer pays on CloudPayments' page and
        comes back to request.return_url; the result reaches us by Pay/Fail."""
        payload = {
            "Amount": _major(request.amount_minor, request.currency),
            "Currency": request.currency,
            "Description": request.description,
            "Email": request.customer_email or None,
            "InvoiceId": request.invoice_id,
            "AccountId": request.customer_ref,
            "RequireConfirmation": False,
            "SendEmail": False,
            "SuccessRedirectUrl": request.return_url,
            "FailRedirectUrl": request.return_url,
        }
        culture = _CULTURES.get((translation.get_language() or "").split("-")[0])
        if culture:
            payload["CultureName"] = culture
        payload = {k: v for k, v in payload.items() if v is not None}
        data = self._post("/orders/create", payload, request_id=f"order:{request.idempotency_key}")
        model = data.get("Model") if isinstance(data.get("Model"), dict) else {}
        url = _text(model.get("Url"))
        if not data.get("Success") or not url.startswith("https://"):
            raise GatewayError(f"CloudPayments refused to create the order: {data.get('Message') or 'no URL'}")
        return HostedPayment(redirect_url=url, gateway_ref=_text(model.get("Id")) or None)

    def charge_token(self, request: PaymentRequest, *, token: str) -> ChargeResult:
        """A merchant-initiated, scheduled charge of a saved card (renewals)."""
        payload = {
            "Amount": _major(request.amount_minor, request.currency),
            "Currency": request.currency,
            "AccountId": request.customer_ref,
            "Token": token,
            "TrInitiatorCode": 0,
            "PaymentScheduled": 1,
            "InvoiceId": request.invoice_id,
            "Description": request.description,
        }
        if request.customer_email:
            payload["Email"] = request.customer_email
        data = self._post("/payments/tokens/charge", payload, request_id=request.idempotency_key)
        model = data.get("Model")
        if isinstance(model, dict) and model:
            return _charge_from_model(model)
        if not data.get("Success") and data.get("Message"):
            # A refused request (no transaction was made): definite, not unknown.
            return ChargeResult(status=ChargeStatus.DECLINED, failure_code="request_rejected",
                                failure_message=_text(data["Message"])[:255])
        raise GatewayError("CloudPayments tokens/charge: an answer without a transaction")

    def refund(self, *, gateway_ref, amount_minor, currency, idempotency_key) -> RefundResult:
        try:
            transaction_id = int(str(gateway_ref))
        except (TypeError, ValueError):
            return RefundResult(approved=False, failure_message=f"not a CloudPayments transaction: {gateway_ref!r}")
        data = self._post(
            "/payments/refund",
            {"TransactionId": transaction_id, "Amount": _major(amount_minor, currency)},
            request_id=idempotency_key,
        )
        if data.get("Success"):
            model = data.get("Model") if isinstance(data.get("Model"), dict) else {}
            return RefundResult(approved=True, gateway_ref=_text(model.get("TransactionId")) or None)
        if data.get("Message"):
            return RefundResult(approved=False, failure_message=_text(data["Message"])[:255])
        raise GatewayError("CloudPayments refund: an answer without a result")

    def lookup(self, *, invoice_id: str) -> ChargeResult:
        data = self._post("/v2/payments/find", {"InvoiceId": invoice_id})
        model = data.get("Model")
        if isinstance(model, list):  # several attempts under one invoice: an approval wins
            model = next((m for m in model if isinstance(m, dict) and m.get("Status") in APPROVED_STATUSES),
                         model[-1] if model else None)
        if isinstance(model, dict) and model:
            return _charge_from_model(model)
        if "not found" in _text(data.get("Message")).lower():
            return ChargeResult(status=ChargeStatus.NOT_FOUND)
        raise GatewayError(f"CloudPayments payments/find: {data.get('Message') or 'unexpected answer'}")

    def card_refused_for_good(self, failure_code: str) -> bool:
        return failure_code in HARD_DECLINE_CODES

    # --- inbound ------------------------------------------------------------------------

    def _is_json(self, body: bytes, headers: dict[str, str]) -> bool:
        content_type = headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type == "application/json":
            return True
        if content_type == "application/x-www-form-urlencoded":
            return False
        return self.notification_format == "json"

    def verify(self, *, body: bytes, headers: dict[str, str]) -> None:
        secret = self.api_secret
        if not secret:
            raise SignatureError("CLOUDPAYMENTS_API_SECRET is not set")
        given = headers.get(SIGNATURE_HEADER, "")
        if given:
            if not _signature_matches(given, body, secret):
                raise SignatureError("Content-HMAC does not match")
            return
        decoded_given = headers.get(DECODED_SIGNATURE_HEADER, "")
        if not decoded_given:
            raise SignatureError("no Content-HMAC header")
        # X-Content-HMAC is computed over the URL-decoded (JSON: the unencoded) body.
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise SignatureError("the body is not UTF-8") from exc
        signed = text if self._is_json(body, headers) else unquote_plus(text, errors="strict")
        if not _signature_matches(decoded_given, signed.encode("utf-8"), secret):
            raise SignatureError("X-Content-HMAC does not match")

    def _fields(self, body: bytes, headers: dict[str, str]) -> dict:
        try:
            text = body.decode("utf-8")
            if self._is_json(body, headers):
                data = json.loads(text, parse_float=Decimal)
                if not isinstance(data, dict):
                    raise ValueError("not an object")
                return data
            return dict(parse_qsl(text, keep_blank_values=True, encoding="utf-8", errors="strict"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise SignatureError(f"signed but malformed notification: {exc}") from exc

    @staticmethod
    def notification_type(data: dict) -> str:
        """Which notification this is, by the fields the protocol requires of each type."""
        if "TransactionId" not in data:
            return "Recurrent" if "Id" in data and ("Interval" in data or "Period" in data) else "Unknown"
        if "PaymentTransactionId" in data:
            return "Refund"
        if "ReasonCode" in data and "Reason" in data:
            return "Fail"
        if "CardFirstSix" not in data:
            return "Cancel"
        if data.get("GatewayName"):
            return "Pay"
        if "OperationType" not in data:
            return "Confirm"
        return "Check"

    def parse_notification(self, *, body: bytes, headers: dict[str, str]) -> Notification:
        self.verify(body=body, headers=headers)
        data = self._fields(body, headers)
        kind_of = self.notification_type(data)
        transaction_id = _text(data.get("TransactionId"))
        invoice_id = _our_invoice_id(data.get("InvoiceId"))
        operation = _text(data.get("OperationType")) or "Payment"
        if kind_of == "Recurrent" or not transaction_id:
            # Subscription changes repeat per Id: one inbox row per distinct body.
            digest = hashlib.sha256(body).hexdigest()[:24]
            return Notification(event_id=f"{kind_of}:{_text(data.get('Id'))}:{digest}"[:128], kind="other",
                                invoice_id=invoice_id, raw=data)
        event_id = f"{kind_of}:{transaction_id}"
        try:
            if kind_of == "Check":
                # Not stored: answered from our pending payment (see check_code).
                return Notification(event_id=event_id, kind="check", invoice_id=invoice_id, raw=data)
            if kind_of == "Pay" and operation == "Payment":
                charge = _charge_from_model({**data, "Status": data.get("Status") or "Completed"})
                return Notification(event_id=event_id, kind="payment.succeeded", invoice_id=invoice_id,
                                    charge=charge, raw=data)
            if kind_of == "Fail" and operation == "Payment":
                refused = _text(data.get("ReasonCode")) in CHECK_REFUSAL_CODES
                charge = _decline(data, message=self._check_refusal(invoice_id) if refused else None)
                return Notification(event_id=event_id, kind="payment.failed", invoice_id=invoice_id,
                                    charge=charge, raw=data)
        except ValueError as exc:
            raise SignatureError(f"signed but malformed {kind_of} notification: {exc}") from exc
        if kind_of == "Refund":
            return Notification(event_id=event_id, kind="refund.succeeded", invoice_id=invoice_id, raw=data)
        return Notification(event_id=event_id, kind="other", invoice_id=invoice_id, raw=data)

    @staticmethod
    def _check_refusal(invoice_id: str | None) -> str:
        """Why our Check refused this payment, as the sandbox words its own check's
        refusals (Payment.refused_by_our_check), or CHECK_NOT_CONFIRMED."""
        from billing.models import Payment
        from billing.services import payment_not_payable

        from .sandbox import MERCHANT_REFUSALS

        payment = Payment.objects.select_related("customer").filter(public_id=invoice_id).first() \
            if invoice_id else None
        return (MERCHANT_REFUSALS.get(payment_not_payable(payment)) if payment else None) or CHECK_NOT_CONFIRMED

    def check_code(self, notification: Notification) -> int:
        """The answer to a Check: may CloudPayments take this money for our invoice?"""
        from billing.models import Payment

        data = notification.raw
        payment = None
        if notification.invoice_id:  # parse_notification keeps only our UUIDs
            payment = Payment.objects.select_related("customer").filter(
                public_id=notification.invoice_id
            ).first()
        code = self._check_code(payment, data)
        if code != CHECK_OK:
            log.info("CloudPayments Check for invoice %r answered %s", notification.invoice_id, code)
        return code

    def _check_code(self, payment, data: dict) -> int:
        from billing.models import Payment
        from billing.services import payment_not_payable

        if payment is None or payment.gateway != self.name:
            return CHECK_BAD_INVOICE
        account = _text(data.get("AccountId"))
        if account and account != str(payment.customer.public_id):
            return CHECK_BAD_ACCOUNT
        currency = _text(data.get("Currency"))
        try:
            amount_minor = to_minor(data.get("Amount"), currency or payment.currency)
        except ValueError:
            return CHECK_BAD_AMOUNT
        if currency != payment.currency or amount_minor != payment.amount_minor:
            return CHECK_BAD_AMOUNT
        why = payment_not_payable(payment)
        if why in ("expired", "account_closed", "documents_changed"):  # abandoned, replaced, closed, superseded
            return CHECK_EXPIRED
        if why == "paid" or payment.status not in (Payment.Status.PENDING, Payment.Status.PROCESSING,
                                                   Payment.Status.FAILED):
            return CHECK_REFUSED
        return CHECK_OK

    def ack_body(self, notification: Notification | None, *, accepted: bool, code: int = 0) -> bytes:
        if not accepted and code == CHECK_OK:
            code = CHECK_REFUSED  # not registered: CloudPayments accepts only 0
        return json.dumps({"code": int(code)}, separators=(",", ":")).encode()
