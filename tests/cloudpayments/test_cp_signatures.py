"""Content-HMAC verification: base64 HMAC-SHA256 over the raw body with the API secret."""

import json
from urllib.parse import unquote_plus

import pytest

from billing.gateways import SignatureError, get_gateway
from billing.models import IncomingNotification, Payment

from .cp_helpers import WEBHOOK, form_body, hmac_b64, pay_fields, post_form

pytestmark = pytest.mark.django_db


def _headers(body, **extra):
    return {"content-type": "application/x-www-form-urlencoded", **extra}


def test_a_form_body_with_cyrillic_text_is_verified_over_the_raw_bytes(pending_payment):
    body = form_body(pay_fields(pending_payment))
    assert b"%D0%" in body  # the Cyrillic really is percent-encoded UTF-8 in the body
    notification = get_gateway("cloudpayments").parse_notification(
        body=body, headers=_headers(body, **{"content-hmac": hmac_b64(body)})
    )
    assert notification.kind == "payment.succeeded"
    assert notification.raw["Description"] == "Soldee — тариф «Старт», 30 дней"
    assert notification.raw["IpCity"] == "Алматы"
    assert notification.event_id == "Pay:1204567"


@pytest.mark.parametrize("case", ["tampered_amount", "tampered_cyrillic", "wrong_secret", "missing", "garbage"])
def test_a_notification_that_fails_verification_is_refused(pending_payment, case):
    body = form_body(pay_fields(pending_payment))
    signature = hmac_b64(body)
    if case == "tampered_amount":
        body = body.replace(b"Amount=29900.00", b"Amount=1.00")
    elif case == "tampered_cyrillic":
        body = body.replace(b"%D0%A1%D1%82%D0%B0%D1%80%D1%82", b"%D0%9F%D1%80%D0%BE")  # Старт → Про
    elif case == "wrong_secret":
        signature = hmac_b64(body, "someone-elses-secret")
    elif case == "garbage":
        signature = "not base64 at all ✗"
    headers = _headers(body) if case == "missing" else _headers(body, **{"content-hmac": signature})
    assert body != form_body(pay_fields(pending_payment)) or case in ("wrong_secret", "missing", "garbage")
    with pytest.raises(SignatureError):
        get_gateway("cloudpayments").parse_notification(body=body, headers=headers)


def test_without_a_configured_secret_nothing_is_accepted(pending_payment, settings):
    body = form_body(pay_fields(pending_payment))
    settings.CLOUDPAYMENTS_API_SECRET = ""
    with pytest.raises(SignatureError):
        get_gateway("cloudpayments").parse_notification(
            body=body, headers=_headers(body, **{"content-hmac": hmac_b64(body, "")})
        )


def test_x_content_hmac_over_the_decoded_body_is_accepted_only_without_content_hmac(pending_payment):
    body = form_body(pay_fields(pending_payment))
    decoded_signature = hmac_b64(unquote_plus(body.decode()).encode("utf-8"))
    gateway = get_gateway("cloudpayments")
    notification = gateway.parse_notification(
        body=body, headers=_headers(body, **{"x-content-hmac": decoded_signature})
    )
    assert notification.kind == "payment.succeeded"
    # The raw-body signature is the one that counts when present: a wrong one is refused
    # even if X-Content-HMAC would match.
    with pytest.raises(SignatureError):
        gateway.parse_notification(body=body, headers=_headers(
            body, **{"content-hmac": hmac_b64(b"other"), "x-content-hmac": decoded_signature}))
    # X-Content-HMAC is over the decoded body, not the raw one.
    with pytest.raises(SignatureError):
        gateway.parse_notification(body=body, headers=_headers(body, **{"x-content-hmac": hmac_b64(body)}))


def test_a_json_body_is_verified_and_parsed(pending_payment, settings, client, django_capture_on_commit_callbacks):
    settings.CLOUDPAYMENTS_NOTIFICATION_FORMAT = "json"
    fields = pay_fields(pending_payment, TransactionId=1204567, Amount=29900.00, TestMode=1)
    body = json.dumps(fields, ensure_ascii=False).encode("utf-8")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(WEBHOOK, data=body, content_type="application/json",
                                HTTP_CONTENT_HMAC=hmac_b64(body))
    assert response.status_code == 200
    assert response.json() == {"code": 0}
    pending_payment.refresh_from_db()
    assert pending_payment.status == Payment.Status.SUCCEEDED
    assert pending_payment.gateway_ref == "1204567"
    tampered = body.replace("Старт".encode(), "Про".encode())
    assert client.post(WEBHOOK, data=tampered, content_type="application/json",
                       HTTP_CONTENT_HMAC=hmac_b64(body)).status_code == 400


def test_the_view_refuses_a_bad_signature_with_zero_writes(client, pending_payment, caplog):
    body = form_body(pay_fields(pending_payment))
    response = post_form(client, body.replace(b"29900.00", b"1.00"), signature=hmac_b64(body))
    assert response.status_code == 400
    assert post_form(client, body, signature=False).status_code == 400
    assert IncomingNotification.objects.count() == 0
    pending_payment.refresh_from_db()
    assert pending_payment.status == Payment.Status.PENDING
    assert "refused cloudpayments notification" in caplog.text
