"""Helpers to walk the purchase path as the sandbox gateway would (tests only)."""

import json
import uuid

from billing.gateways import sandbox
from billing.models import SandboxTransaction
from billing.services import payment_hosted_url


def start_checkout(client, customer, plan, documents, token="tok-1"):
    from subscriptions.services import checkout_start

    return checkout_start(customer=customer, plan=plan, document_ids=[d.pk for d in documents.values()],
                          token=token, client_ip="10.0.0.7", user_agent="pytest-browser/1.0")


def pay_on_sandbox(payment, card=sandbox.CARD_APPROVE) -> SandboxTransaction:
    """The customer types a card on the sandbox page (no notification delivered yet)."""
    payment_hosted_url(payment=payment)
    txn = SandboxTransaction.objects.get(invoice_id=str(payment.public_id), kind="hosted")
    sandbox.decide_hosted(txn.pk, card)
    txn.refresh_from_db()
    return txn


def buy(customer, plan, documents, card=sandbox.CARD_APPROVE, token="tok-1"):
    """Checkout, the card typed on the sandbox page, the return: the settled payment (the
    on-commit follow-ups, such as provisioning access, are left to the caller)."""
    from billing.services import payment_refresh_from_gateway

    payment = start_checkout(None, customer, plan, documents, token=token)
    pay_on_sandbox(payment, card=card)
    payment_refresh_from_gateway(payment=payment)
    return payment


def notification(txn, event_id=None) -> bytes:
    return sandbox.notification_body(txn, event_id=event_id or f"evt_{uuid.uuid4().hex}")


def post_webhook(client, body: bytes, secret="test-webhook-secret", signature=None, **extra):
    headers = {}
    if signature is not False:
        headers["HTTP_X_SANDBOX_SIGNATURE"] = signature or sandbox.sign(body, secret)
    return client.post("/billing/webhooks/sandbox/", data=body, content_type="application/json",
                       **headers, **extra)


def tampered(body: bytes) -> bytes:
    data = json.loads(body)
    data["amount_minor"] = 1
    return json.dumps(data, separators=(",", ":")).encode()
