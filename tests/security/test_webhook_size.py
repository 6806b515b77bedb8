"""Webhook bodies are small JSON documents: an oversized one is refused before anything
is parsed or stored (Django refuses anything above DATA_UPLOAD_MAX_MEMORY_SIZE; the view
refuses anything above 256 KB, signed or not)."""

import json
import uuid

import pytest
from django.conf import settings

from billing.gateways import sandbox
from billing.models import IncomingNotification, Payment

LIMIT = 256 * 1024


def _signed_padded(size: int) -> bytes:
    payload = {"event_id": "evt_big", "type": "payment.succeeded", "invoice_id": str(uuid.uuid4()),
               "transaction_id": "x", "amount_minor": 1, "currency": "KZT", "padding": ""}
    base = len(json.dumps(payload, separators=(",", ":")))
    payload["padding"] = "a" * (size - base)
    return json.dumps(payload, separators=(",", ":")).encode()


def _post(client, body: bytes, sign=True):
    headers = {"HTTP_X_SANDBOX_SIGNATURE": sandbox.sign(body)} if sign else {}
    return client.post("/billing/webhooks/sandbox/", data=body, content_type="application/json", **headers)


@pytest.mark.django_db
def test_a_body_above_django_upload_limit_is_refused_and_nothing_stored(client):
    body = _signed_padded(settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1024)
    response = _post(client, body)
    assert response.status_code in (400, 413)
    assert not IncomingNotification.objects.exists() and not Payment.objects.exists()


@pytest.mark.django_db
def test_a_signed_body_above_256_kb_is_refused_and_nothing_stored(client):
    body = _signed_padded(LIMIT + 1024)
    response = _post(client, body)
    assert response.status_code in (400, 413)
    assert not IncomingNotification.objects.exists()


@pytest.mark.django_db
def test_a_body_just_under_the_limit_is_not_refused_for_its_size(client):
    body = _signed_padded(LIMIT - 1024)
    response = _post(client, body)
    assert response.status_code != 413
