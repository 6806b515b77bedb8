"""Outbound CloudPayments calls with HTTP mocked at the transport (respx): payment link,
token charge, refund, status look-up; declines versus unknown outcomes."""

import base64
import json
import logging

import httpx
import pytest
import respx

from billing import services
from billing.gateways import ChargeStatus, GatewayError, get_gateway
from billing.models import Payment

from .cp_helpers import API_SECRET, API_URL, PUBLIC_ID, form_body, pay_fields, post_form

pytestmark = pytest.mark.django_db

TOKEN = "tk_5a0c2ae3b61f4e8b9d1d7b0b5f0c1a2b"


def transaction_model(payment, **overrides) -> dict:
    """A transaction Model as DEV documents it for payments/tokens/charge."""
    model = {
        "ReasonCode": 0, "PublicId": PUBLIC_ID, "TerminalUrl": "https://soldee.kz",
        "TransactionId": 891510444, "Amount": 29900, "Currency": "KZT", "CurrencyCode": 7,
        "PaymentAmount": 29900, "PaymentCurrency": "KZT", "PaymentCurrencyCode": 7,
        "InvoiceId": str(payment.public_id), "AccountId": str(payment.customer.public_id),
        "Email": None, "Description": "Soldee — тариф «Старт», 30 дней", "JsonData": None,
        "CreatedDate": "/Date(1777885200000)/", "PayoutDate": None, "PayoutDateIso": None,
        "CreatedDateIso": "2026-05-04T09:00:00", "AuthDate": "/Date(1777885201000)/",
        "AuthDateIso": "2026-05-04T09:00:01", "ConfirmDate": "/Date(1777885201000)/",
        "ConfirmDateIso": "2026-05-04T09:00:01", "AuthCode": "A1B2C3", "TestMode": True,
        "Rrn": None, "OriginalTransactionId": None, "FallBackScenarioDeclinedTransactionId": None,
        "IpAddress": "95.59.1.2", "IpCountry": "KZ", "IpCity": "Алматы",
        "CardFirstSix": "424242", "CardLastFour": "4242", "CardExpDate": "12/29", "CardType": "Visa",
        "CardProduct": "C", "CardCategory": "Visa Signature", "IssuerBankCountry": "KZ",
        "Issuer": "Kaspi Bank", "CardTypeCode": 0, "Status": "Completed", "StatusCode": 3,
        "CultureName": "ru", "Reason": "Approved", "CardHolderMessage": "Оплата успешно проведена",
        "Type": 0, "Refunded": False, "Name": "AIGERIM SATPAYEVA", "Token": TOKEN,
        "SubscriptionId": None, "GatewayName": "Test", "TrInitiatorCode": 0, "TotalFee": 0,
    }
    model.update(overrides)
    return model


def declined_model(payment):
    return transaction_model(payment, ReasonCode=5051, Reason="InsufficientFunds",
                             CardHolderMessage="Недостаточно средств на карте", Status="Declined",
                             StatusCode=5, AuthCode=None, ConfirmDate=None, ConfirmDateIso=None)


@pytest.fixture
def api():
    with respx.mock(base_url=API_URL, assert_all_called=False) as router:
        yield router


def _request(payment):
    return services.payment_request(payment)


def _sent(route, index=-1):
    request = route.calls[index].request
    return request, json.loads(request.content)


def test_the_payment_link_carries_our_invoice_account_amount_and_return_url(api, pending_payment):
    route = api.post("/orders/create").respond(json={"Success": True, "Message": None, "Model": {
        "Id": "gASGZVgUN21hcpPF", "Number": 61, "Amount": 29900.0, "Currency": "KZT", "CurrencyCode": 7,
        "Email": pending_payment.customer.email, "Description": pending_payment.description,
        "RequireConfirmation": False, "Url": "https://orders.cloudpayments.ru/d/gASGZVgUN21hcpPF",
        "CultureName": "en-US", "StatusCode": 0, "Status": "Created"}})
    url = services.payment_hosted_url(payment=pending_payment)
    assert url == "https://orders.cloudpayments.ru/d/gASGZVgUN21hcpPF"
    request, sent = _sent(route)
    assert request.headers["authorization"] == "Basic " + base64.b64encode(
        f"{PUBLIC_ID}:{API_SECRET}".encode()).decode()
    assert request.headers["x-request-id"] == f"order:{pending_payment.idempotency_key}"
    return_url = _request(pending_payment).return_url
    assert return_url.endswith(f"/billing/payments/{pending_payment.public_id}/return/")
    assert sent == {
        "Amount": 29900.0, "Currency": "KZT", "Description": pending_payment.description,
        "Email": pending_payment.customer.email, "InvoiceId": str(pending_payment.public_id),
        "AccountId": str(pending_payment.customer.public_id), "RequireConfirmation": False,
        "SendEmail": False, "SuccessRedirectUrl": return_url, "FailRedirectUrl": return_url,
        **({"CultureName": sent["CultureName"]} if "CultureName" in sent else {}),
    }


def test_a_refused_order_is_an_error_not_a_url(api, pending_payment):
    api.post("/orders/create").respond(json={"Success": False, "Message": "Invalid Amount value"})
    with pytest.raises(GatewayError, match="Invalid Amount value"):
        services.payment_hosted_url(payment=pending_payment)


def test_a_token_charge_is_merchant_initiated_scheduled_and_idempotent(api, pending_payment):
    route = api.post("/payments/tokens/charge").respond(
        json={"Success": True, "Message": None, "Model": transaction_model(pending_payment)})
    charge = get_gateway().charge_token(_request(pending_payment), token=TOKEN)
    assert charge.status == ChargeStatus.APPROVED
    assert (charge.gateway_ref, charge.amount_minor, charge.currency) == ("891510444", 2_990_000, "KZT")
    assert charge.card_mask == "•••• 4242" and charge.card_token == TOKEN
    assert charge.paid_at.isoformat() == "2026-05-04T09:00:01+00:00"
    request, sent = _sent(route)
    assert request.headers["x-request-id"] == pending_payment.idempotency_key
    assert request.headers["content-type"] == "application/json"
    assert sent["TrInitiatorCode"] == 0 and sent["PaymentScheduled"] == 1
    assert sent["Token"] == TOKEN and sent["Amount"] == 29900.0 and sent["Currency"] == "KZT"
    assert sent["InvoiceId"] == str(pending_payment.public_id)
    assert sent["AccountId"] == str(pending_payment.customer.public_id)
    # Applied through the real service, the approval settles the payment.
    services.payment_apply_result(public_id=pending_payment.public_id, charge=charge, source="test")
    pending_payment.refresh_from_db()
    assert pending_payment.status == Payment.Status.SUCCEEDED and pending_payment.gateway_ref == "891510444"


def test_a_decline_carries_the_reason_code_and_the_cardholder_message(api, pending_payment):
    api.post("/payments/tokens/charge").respond(
        json={"Success": False, "Message": None, "Model": declined_model(pending_payment)})
    charge = get_gateway().charge_token(_request(pending_payment), token=TOKEN)
    assert charge.status == ChargeStatus.DECLINED
    assert (charge.failure_code, charge.failure_message) == ("5051", "Недостаточно средств на карте")
    assert charge.gateway_ref == "891510444"
    services.payment_apply_result(public_id=pending_payment.public_id, charge=charge, source="test")
    pending_payment.refresh_from_db()
    assert pending_payment.status == Payment.Status.FAILED and pending_payment.failure_code == "5051"


def test_a_3ds_answer_is_never_a_success(api, pending_payment):
    api.post("/payments/tokens/charge").respond(json={"Success": False, "Message": None, "Model": {
        "TransactionId": 891510445, "PaReq": "eJxVUdtugkAQ...", "GoReq": None,
        "AcsUrl": "https://demo.cloudpayments.ru/acs", "ThreeDsCallbackId": "7be4d37f0a434c0a8a7fc0e328368d7d",
        "IFrameIsAllowed": True, "FrameWidth": None, "FrameHeight": None, "ThreeDsSessionData": None}})
    charge = get_gateway().charge_token(_request(pending_payment), token=TOKEN)
    assert charge.status == ChargeStatus.DECLINED and charge.failure_code == "3ds_required"


def test_a_refused_request_is_a_definite_decline(api, pending_payment):
    api.post("/payments/tokens/charge").respond(json={"Success": False, "Message": "Token not found"})
    charge = get_gateway().charge_token(_request(pending_payment), token="tk_unknown")
    assert charge.status == ChargeStatus.DECLINED
    assert (charge.failure_code, charge.failure_message) == ("request_rejected", "Token not found")


def test_a_timeout_is_unknown_never_retried_and_resolved_by_the_status_look_up(api, pending_payment):
    charge_route = api.post("/payments/tokens/charge").mock(side_effect=httpx.ReadTimeout("read timed out"))
    with pytest.raises(GatewayError, match="outcome unknown"):
        get_gateway().charge_token(_request(pending_payment), token=TOKEN)
    assert charge_route.call_count == 1  # the money may have moved: no blind retry
    pending_payment.refresh_from_db()
    assert pending_payment.status == Payment.Status.PENDING

    find = api.post("/v2/payments/find").respond(
        json={"Success": True, "Message": None, "Model": transaction_model(pending_payment)})
    payment = services.payment_refresh_from_gateway(payment=pending_payment, source="reconcile")
    assert payment.status == Payment.Status.SUCCEEDED and payment.gateway_ref == "891510444"
    request, sent = _sent(find)
    assert sent == {"InvoiceId": str(pending_payment.public_id)}
    assert "x-request-id" not in request.headers


@pytest.mark.parametrize("answer", [
    httpx.Response(500, text="Internal Server Error"),
    httpx.Response(502, text="Bad Gateway"),
    httpx.Response(200, text="<html>maintenance</html>"),
    httpx.Response(401),
])
def test_server_errors_and_garbage_are_unknown_and_not_retried(api, pending_payment, answer):
    route = api.post("/payments/tokens/charge").mock(return_value=answer)
    with pytest.raises(GatewayError):
        get_gateway().charge_token(_request(pending_payment), token=TOKEN)
    assert route.call_count == 1


def test_a_connection_that_never_opened_is_retried_with_backoff(api, pending_payment, no_backoff_sleep):
    route = api.post("/payments/tokens/charge").mock(side_effect=[
        httpx.ConnectError("connection refused"), httpx.ConnectTimeout("connect timed out"),
        httpx.Response(200, json={"Success": True, "Message": None, "Model": transaction_model(pending_payment)}),
    ])
    charge = get_gateway().charge_token(_request(pending_payment), token=TOKEN)
    assert charge.status == ChargeStatus.APPROVED
    assert route.call_count == 3
    assert no_backoff_sleep == [0.5, 1.0]
    assert {c.request.headers["x-request-id"] for c in route.calls} == {pending_payment.idempotency_key}


def test_over_the_concurrent_request_limit_is_retried_with_the_same_key(api, pending_payment, no_backoff_sleep):
    """HTTP 429: more concurrent requests than the terminal allows (DEV #printsip-raboty),
    answered until one of them finishes; nothing was processed, so the call is tried again."""
    route = api.post("/payments/tokens/charge").mock(side_effect=[
        httpx.Response(429), httpx.Response(429),
        httpx.Response(200, json={"Success": True, "Message": None, "Model": transaction_model(pending_payment)}),
    ])
    charge = get_gateway().charge_token(_request(pending_payment), token=TOKEN)
    assert charge.status == ChargeStatus.APPROVED
    assert route.call_count == 3 and no_backoff_sleep == [0.5, 1.0]
    assert {c.request.headers["x-request-id"] for c in route.calls} == {pending_payment.idempotency_key}
    route.mock(side_effect=None, return_value=httpx.Response(429))
    with pytest.raises(GatewayError, match="429"):
        get_gateway().charge_token(_request(pending_payment), token=TOKEN)
    assert route.call_count == 6


def test_connection_failures_give_up_after_two_retries(api, pending_payment, no_backoff_sleep):
    route = api.post("/payments/tokens/charge").mock(side_effect=httpx.ConnectError("connection refused"))
    with pytest.raises(GatewayError, match="cannot connect"):
        get_gateway().charge_token(_request(pending_payment), token=TOKEN)
    assert route.call_count == 3 and len(no_backoff_sleep) == 2


def test_the_status_look_up_maps_not_found_declined_and_pending(api, pending_payment):
    gateway = get_gateway()
    route = api.post("/v2/payments/find")
    route.respond(json={"Success": False, "Message": "Not found"})
    assert gateway.lookup(invoice_id=str(pending_payment.public_id)).status == ChargeStatus.NOT_FOUND
    route.respond(json={"Success": False, "Message": None, "Model": declined_model(pending_payment)})
    declined = gateway.lookup(invoice_id=str(pending_payment.public_id))
    assert (declined.status, declined.failure_code) == (ChargeStatus.DECLINED, "5051")
    route.respond(json={"Success": False, "Message": None,
                        "Model": transaction_model(pending_payment, Status="AwaitingAuthentication", StatusCode=1)})
    assert gateway.lookup(invoice_id=str(pending_payment.public_id)).status == ChargeStatus.PENDING
    route.respond(json={"Success": False, "Message": "Internal error"})
    with pytest.raises(GatewayError):
        gateway.lookup(invoice_id=str(pending_payment.public_id))


def test_a_refund_of_a_settled_payment_goes_to_payments_refund_once_per_key(
    api, client, pending_payment, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        post_form(client, form_body(pay_fields(pending_payment)))
    route = api.post("/payments/refund").respond(
        json={"Model": {"TransactionId": 1204999}, "Success": True, "Message": None})
    ref = services.payment_refund_execute(payment_id=pending_payment.pk, amount_minor=1_000_050,
                                          idempotency_key="refund-17")
    assert ref == "1204999"
    request, sent = _sent(route)
    assert sent == {"TransactionId": 1204567, "Amount": 10000.5}
    assert request.headers["x-request-id"] == "refund-17"


def test_a_refused_refund_is_reported_as_refused(api, client, pending_payment, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        post_form(client, form_body(pay_fields(pending_payment)))
    api.post("/payments/refund").respond(json={"Success": False, "Message": "Amount exceeds the payment"})
    with pytest.raises(services.RefundRefused, match="Amount exceeds"):
        services.payment_refund_execute(payment_id=pending_payment.pk, amount_minor=2_990_000,
                                        idempotency_key="refund-18")
    api.post("/payments/refund").mock(side_effect=httpx.ReadTimeout("read timed out"))
    with pytest.raises(GatewayError):
        services.payment_refund_execute(payment_id=pending_payment.pk, amount_minor=2_990_000,
                                        idempotency_key="refund-19")


def test_the_api_url_is_configurable_and_an_unconfigured_adapter_refuses_to_call(api, pending_payment, settings):
    settings.CLOUDPAYMENTS_API_URL = "https://api.cloudpayments.ru/"
    with respx.mock(base_url="https://api.cloudpayments.ru") as ru:
        ru.post("/v2/payments/find").respond(json={"Success": False, "Message": "Not found"})
        assert get_gateway().lookup(invoice_id="x").status == ChargeStatus.NOT_FOUND
    settings.CLOUDPAYMENTS_API_SECRET = ""
    with pytest.raises(GatewayError, match="not configured"):
        get_gateway().lookup(invoice_id="x")


def test_the_api_secret_never_reaches_the_logs_or_the_errors(api, client, pending_payment, caplog):
    caplog.set_level(logging.DEBUG)
    api.post("/payments/tokens/charge").mock(side_effect=httpx.ReadTimeout("read timed out"))
    api.post("/v2/payments/find").respond(401)
    errors = []
    for call in (lambda: get_gateway().charge_token(_request(pending_payment), token=TOKEN),
                 lambda: get_gateway().lookup(invoice_id=str(pending_payment.public_id))):
        with pytest.raises(GatewayError) as exc:
            call()
        errors.append(str(exc.value))
    post_form(client, form_body(pay_fields(pending_payment)), signature="forged")
    secret_b64 = base64.b64encode(f"{PUBLIC_ID}:{API_SECRET}".encode()).decode()
    for text in [caplog.text, *errors]:
        assert API_SECRET not in text and secret_b64 not in text
