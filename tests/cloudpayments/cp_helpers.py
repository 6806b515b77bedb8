"""Notification bodies in CloudPayments' documented format (developers.cloudpayments.ru
#uvedomleniya), signed independently of the adapter (tests only)."""

import base64
import hashlib
import hmac
from datetime import UTC, datetime
from urllib.parse import urlencode

API_URL = "https://api.cloudpayments.kz"
PUBLIC_ID = "pk_test_soldee"
API_SECRET = "cp-test-api-secret-4f1d"
WEBHOOK = "/billing/webhooks/cloudpayments/"


def hmac_b64(body: bytes, secret: str = API_SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()).decode()


def now_text() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")


def card_fields(payment, **overrides) -> dict:
    """The fields Check, Pay and Fail share, as CloudPayments posts them."""
    fields = {
        "TransactionId": "1204567",
        "Amount": "29900.00",
        "Currency": "KZT",
        "PaymentAmount": "29900.00",
        "PaymentCurrency": "KZT",
        "DateTime": now_text(),
        "CardFirstSix": "424242",
        "CardLastFour": "4242",
        "CardType": "Visa",
        "CardExpDate": "12/29",
        "TestMode": "1",
        "OperationType": "Payment",
        "InvoiceId": str(payment.public_id) if payment else "",
        "AccountId": str(payment.customer.public_id) if payment else "",
        "Name": "АЙГЕРИМ САТПАЕВА",
        "Email": payment.customer.email if payment else "",
        "Description": "Soldee — тариф «Старт», 30 дней",
        "IpAddress": "95.59.1.2",
        "IpCountry": "KZ",
        "IpCity": "Алматы",
        "Issuer": "Kaspi Bank",
        "IssuerBankCountry": "KZ",
        "Data": '{"comment":"подписка"}',
    }
    fields.update(overrides)
    return {k: v for k, v in fields.items() if v is not None}


def check_fields(payment, **overrides) -> dict:
    return card_fields(payment, Status="Completed", **overrides)


def pay_fields(payment, **overrides) -> dict:
    return card_fields(payment, Status="Completed", GatewayName="Test", AuthCode="A1B2C3",
                       Token="tk_5a0c2ae3b61f4e8b9d1d7b0b5f0c1a2b", Rrn="612345678901", TotalFee="0", **overrides)


def fail_fields(payment, **overrides) -> dict:
    fields = {"Reason": "InsufficientFunds", "ReasonCode": "5051"}
    fields.update(overrides)
    return card_fields(payment, **fields)


def refund_fields(payment, **overrides) -> dict:
    fields = {
        "TransactionId": "1204999",
        "PaymentTransactionId": "1204567",
        "Amount": "29900.00",
        "DateTime": now_text(),
        "OperationType": "Refund",
        "InvoiceId": str(payment.public_id),
        "AccountId": str(payment.customer.public_id),
        "Email": payment.customer.email,
    }
    fields.update(overrides)
    return fields


def form_body(fields: dict) -> bytes:
    return urlencode(fields).encode("ascii")


def post_form(client, body: bytes, *, signature=None, header="HTTP_CONTENT_HMAC"):
    headers = {} if signature is False else {header: signature or hmac_b64(body)}
    return client.post(WEBHOOK, data=body, content_type="application/x-www-form-urlencoded", **headers)
