"""No card data is stored or logged: the portal keeps a gateway token and a mask, the
sandbox ledger the last four digits. The sandbox's hosted page receives the full number
in a POST, so a whole purchase through it is run with DEBUG logging and every log record
and every stored row is searched for the number."""

import logging
import re

import pytest
from django.apps import apps
from django.core import serializers

from billing.gateways import sandbox
from billing.models import Payment, SandboxTransaction
from billing.services import payment_hosted_url
from subscriptions.services import checkout_start
from tests.billing.helpers import notification, post_webhook

CARD_FIELD = re.compile(r"(^|_)(pan|card_?num(ber)?|cc_?num(ber)?|cvc2?|cvv2?|csc|track_?[12]?|"
                        r"exp(iry)?_?(date|month|year)?|expiration)($|_)", re.IGNORECASE)
ALLOWED = {"card_mask", "card_last4"}
# Not inside a hex id or a key, nor the fraction of a float ("succeeded in 0.0011872879999828s"
# in a worker's log made a Luhn-valid number once in a PostgreSQL run).
SIXTEEN_DIGITS = re.compile(r"(?<![0-9A-Za-z.])(?:\d[ -]?){15}\d(?![0-9A-Za-z])")


def luhn_ok(number: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def card_numbers_in(text: str) -> list[str]:
    """16-digit, Luhn-valid numbers standing alone (not inside a hex id or a key)."""
    found = (re.sub(r"\D", "", m) for m in SIXTEEN_DIGITS.findall(text))
    return [n for n in found if luhn_ok(n)]


def test_the_field_name_pattern_catches_card_fields():
    for name in ("pan", "card_number", "cardnumber", "cvv", "cvc", "card_cvc", "exp_month", "expiry_date"):
        assert CARD_FIELD.search(name), name
    for name in ("card_mask", "card_last4", "company", "expires_at", "span", "panel"):
        assert name in ALLOWED or not CARD_FIELD.search(name), name
    assert card_numbers_in("card 4242 4242 4242 4242 typed") == ["4242424242424242"]
    assert not card_numbers_in("session 6870000056078425ab, uuid 1b2be2c114214cf2")
    assert not card_numbers_in("Task x succeeded in 0.0011872879999828s")


def test_no_model_has_a_card_data_field():
    offending = [f"{m._meta.label}.{f.name}" for m in apps.get_models() for f in m._meta.get_fields()
                 if hasattr(f, "column") and f.name not in ALLOWED and CARD_FIELD.search(f.name)]
    assert not offending, offending


def _all_rows_as_text() -> str:
    chunks = []
    for model in apps.get_models():
        if model._meta.label_lower in ("sessions.session",):
            continue
        chunks.append(serializers.serialize("json", model._default_manager.all()))
    return "\n".join(chunks)


@pytest.mark.parametrize("typed", ["4242 4242 4242 4242", "4242424242424242", "4000-0000-0000-0077"])
def test_a_sandbox_purchase_logs_and_stores_no_card_number(typed, client, customer, plan, documents,
                                                           caplog, django_capture_on_commit_callbacks,
                                                           enqueued):
    from django.db import connection

    digits = re.sub(r"\D", "", typed)
    caplog.set_level(logging.DEBUG)
    # Every SQL statement with its parameters is logged too: the number never reaches a query.
    caplog.set_level(logging.DEBUG, logger="django.db.backends")
    connection.force_debug_cursor = True
    client.force_login(customer)
    payment = checkout_start(customer=customer, plan=plan, document_ids=[d.pk for d in documents.values()],
                             token="card-test", client_ip="127.0.0.1", user_agent="pytest")
    page = payment_hosted_url(payment=payment)
    assert client.get(page).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(page, {"card_number": typed})
    assert response.status_code == 302
    enqueued.calls.clear()  # sandbox_notify would POST over HTTP; deliver it through the client
    txn = SandboxTransaction.objects.get(invoice_id=str(payment.public_id))
    if txn.status == SandboxTransaction.Status.PROCESSING:
        sandbox.approve_delayed(txn.pk)
        txn.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        assert post_webhook(client, notification(txn)).status_code == 200
    client.get(f"/billing/payments/{payment.public_id}/return/")
    payment.refresh_from_db()
    assert payment.status == Payment.Status.SUCCEEDED
    assert txn.card_last4 == digits[-4:]
    assert payment.card_mask.endswith(digits[-4:]) and digits not in payment.card_mask

    logged = "\n".join(f"{r.getMessage()} {r.args!r} {getattr(r, 'request', '')}" for r in caplog.records)
    connection.force_debug_cursor = False
    assert any(r.name == "django.db.backends" for r in caplog.records), "SQL was logged at DEBUG"
    assert digits not in logged and typed not in logged
    assert not card_numbers_in(logged)
    stored = _all_rows_as_text()
    assert digits not in stored and typed not in stored


def test_staff_never_see_a_saved_cards_token(client, customer, settings):
    """Found by the staff explorer: the admin showed the token that charges the card."""
    from billing.models import PaymentMethod
    from tests.factories import UserFactory

    settings.SOLDEE_STAFF_MFA_REQUIRED = False
    card = PaymentMethod.objects.create(customer=customer, gateway="sandbox", token="sbx_tok_secret42",
                                        card_mask="•••• 4242")
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    for url in ("/admin/billing/paymentmethod/", f"/admin/billing/paymentmethod/{card.pk}/change/"):
        page = client.get(url)
        assert page.status_code == 200 and b"sbx_tok_secret42" not in page.content
