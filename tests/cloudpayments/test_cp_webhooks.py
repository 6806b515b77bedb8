"""CloudPayments notifications through the real webhook view: Check, Pay, Fail, Refund."""

import hashlib
import json
from datetime import UTC, datetime

import pytest

from billing import services
from billing.models import IncomingNotification, Payment, PaymentMethod
from offer.models import Acceptance
from soldee.models import Event
from subscriptions.models import Subscription

from .cp_helpers import (
    check_fields,
    fail_fields,
    form_body,
    now_text,
    pay_fields,
    post_form,
    refund_fields,
)

pytestmark = pytest.mark.django_db


def _counts():
    return (
        Payment.objects.filter(status="succeeded").count(),
        Acceptance.objects.count(),
        Subscription.objects.count(),
        IncomingNotification.objects.count(),
        Event.objects.filter(verb="payment.succeeded").count(),
        PaymentMethod.objects.count(),
    )


def test_pay_settles_the_payment_concludes_the_agreement_and_starts_the_subscription(
    client, pending_payment, django_capture_on_commit_callbacks, enqueued
):
    paid_at = now_text()
    body = form_body(pay_fields(pending_payment, DateTime=paid_at))
    with django_capture_on_commit_callbacks(execute=True):
        response = post_form(client, body)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.content == b'{"code":0}'
    payment = Payment.objects.get(pk=pending_payment.pk)
    assert payment.status == Payment.Status.SUCCEEDED
    assert payment.gateway == "cloudpayments"
    assert payment.gateway_ref == "1204567"
    assert payment.paid_at == datetime.strptime(paid_at, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    assert payment.card_mask == "•••• 4242"
    method = PaymentMethod.objects.get(customer=payment.customer)
    assert (method.gateway, method.token) == ("cloudpayments", "tk_5a0c2ae3b61f4e8b9d1d7b0b5f0c1a2b")
    acceptance = Acceptance.objects.get(payment=payment)
    assert acceptance.accepted_at == payment.paid_at
    assert acceptance.ip_address == "10.0.0.9"
    subscription = Subscription.objects.get(customer=payment.customer)
    assert subscription.status == "active" and subscription.current_period_start == payment.paid_at
    row = IncomingNotification.objects.get()
    assert (row.gateway, row.event_id, row.event_type, row.outcome) == (
        "cloudpayments", "Pay:1204567", "payment.succeeded", "processed")
    assert "billing.tasks.receipt_email" in enqueued.names()
    # The inbox keeps the evidence, not what could charge the card or name the payer.
    assert row.body_sha256 == hashlib.sha256(body).hexdigest()
    stored = json.loads(row.body)
    assert stored["TransactionId"] == "1204567" and stored["CardLastFour"] == "4242"
    assert stored["Token"] == stored["Name"] == stored["Email"] == stored["IpAddress"] == "[removed]"
    for secret in ("tk_5a0c2ae3b61f4e8b9d1d7b0b5f0c1a2b", "АЙГЕРИМ", payment.customer.email, "95.59.1.2",
                   "424242", "12/29", "Алматы"):
        assert secret not in row.body


def test_notifications_stored_before_redaction_are_redacted_by_the_migration(pending_payment):
    import importlib

    from django.apps import apps

    raw = form_body(pay_fields(pending_payment)).decode()
    row = IncomingNotification.objects.create(gateway="cloudpayments", event_id="Pay:1", event_type="other",
                                              body=raw, body_sha256="")
    importlib.import_module("billing.migrations.0009_notification_redact_stored").redact_stored(apps, None)
    row.refresh_from_db()
    assert row.body_sha256 == hashlib.sha256(raw.encode()).hexdigest()
    assert json.loads(row.body)["Token"] == "[removed]" and "tk_5a0c" not in row.body
    assert json.loads(row.body)["InvoiceId"] == str(pending_payment.public_id)


def test_a_duplicate_pay_is_acknowledged_and_changes_nothing(
    client, pending_payment, django_capture_on_commit_callbacks, enqueued
):
    body = form_body(pay_fields(pending_payment))
    with django_capture_on_commit_callbacks(execute=True):
        assert post_form(client, body).json() == {"code": 0}
    after_first = _counts()
    assert after_first == (1, 1, 1, 1, 1, 1)
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(2):
            response = post_form(client, body)
            assert response.status_code == 200 and response.json() == {"code": 0}
    assert _counts() == after_first
    assert enqueued.names().count("billing.tasks.receipt_email") == 1


def test_check_with_the_matching_invoice_and_amount_lets_the_payment_go_ahead(client, pending_payment):
    response = post_form(client, form_body(check_fields(pending_payment)))
    assert response.status_code == 200 and response.json() == {"code": 0}
    # A Check is answered, never stored or applied.
    assert IncomingNotification.objects.count() == 0
    pending_payment.refresh_from_db()
    assert pending_payment.status == Payment.Status.PENDING


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"Amount": "29899.00"}, 12),
        ({"Amount": "299.00"}, 12),
        ({"Currency": "USD"}, 12),
        ({"InvoiceId": "6f1c0b1e-8a51-4c1e-9d38-1a1d8cbb7d10"}, 10),  # a UUID that is not ours
        ({"InvoiceId": "order-42"}, 10),  # made in the merchant console
        ({"InvoiceId": ""}, 10),
        ({"AccountId": "someone-else"}, 11),
    ],
)
def test_check_refuses_what_does_not_match_our_pending_payment(client, pending_payment, overrides, code):
    response = post_form(client, form_body(check_fields(pending_payment, **overrides)))
    assert response.status_code == 200
    assert response.json() == {"code": code}
    assert IncomingNotification.objects.count() == 0


def test_check_refuses_an_invoice_that_is_already_paid_or_abandoned(
    client, pending_payment, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        post_form(client, form_body(pay_fields(pending_payment)))
    second_attempt = check_fields(pending_payment, TransactionId="1204600")
    assert post_form(client, form_body(second_attempt)).json() == {"code": 13}

    other = Payment.objects.get(pk=pending_payment.pk)
    Payment.objects.filter(pk=other.pk).update(status=Payment.Status.PENDING)
    assert services.payment_expire(payment_id=other.pk)
    assert post_form(client, form_body(second_attempt)).json() == {"code": 20}


def test_a_payment_of_another_gateway_is_refused_by_check(client, pending_payment):
    Payment.objects.filter(pk=pending_payment.pk).update(gateway="sandbox")
    assert post_form(client, form_body(check_fields(pending_payment))).json() == {"code": 10}


def test_fail_marks_the_payment_failed_and_a_later_pay_on_the_same_invoice_settles_it(
    client, pending_payment, django_capture_on_commit_callbacks
):
    response = post_form(client, form_body(fail_fields(pending_payment, TransactionId="1204560")))
    assert response.status_code == 200 and response.json() == {"code": 0}
    payment = Payment.objects.get(pk=pending_payment.pk)
    assert payment.status == Payment.Status.FAILED
    assert (payment.failure_code, payment.failure_message) == ("5051", "Insufficient funds")
    assert IncomingNotification.objects.get().event_id == "Fail:1204560"
    # The customer tries another card on the same page: Check allows it, Pay settles.
    assert post_form(client, form_body(check_fields(pending_payment))).json() == {"code": 0}
    with django_capture_on_commit_callbacks(execute=True):
        post_form(client, form_body(pay_fields(pending_payment)))
    payment.refresh_from_db()
    assert payment.status == Payment.Status.SUCCEEDED and payment.gateway_ref == "1204567"


def test_a_fail_of_a_refund_operation_does_not_fail_the_payment(client, pending_payment):
    response = post_form(client, form_body(fail_fields(pending_payment, OperationType="Refund")))
    assert response.json() == {"code": 0}
    pending_payment.refresh_from_db()
    assert pending_payment.status == Payment.Status.PENDING
    assert IncomingNotification.objects.get().event_type == "other"


def test_a_refund_notification_is_stored_once_and_moves_no_money(
    client, pending_payment, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        post_form(client, form_body(pay_fields(pending_payment)))
    body = form_body(refund_fields(pending_payment))
    for _ in range(2):
        response = post_form(client, body)
        assert response.status_code == 200 and response.json() == {"code": 0}
    row = IncomingNotification.objects.get(event_id="Refund:1204999")
    assert (row.event_type, row.outcome) == ("refund.succeeded", "ignored")
    payment = Payment.objects.get(pk=pending_payment.pk)
    assert payment.refunded_minor == 0  # refunds are recorded by the refund flow, not the echo


def test_a_recurrent_notification_is_acknowledged_and_kept_per_change(client, customer):
    base = {
        "Id": "sc_8cf8a9338fb8ebf7202b08d09c938", "AccountId": str(customer.public_id),
        "Description": "Подписка", "Email": customer.email, "Amount": "29900.00", "Currency": "KZT",
        "RequireConfirmation": "false", "StartDate": now_text(), "Interval": "Month", "Period": "1",
        "SuccessfulTransactionsNumber": "1", "FailedTransactionsNumber": "0",
    }
    for status in ("Active", "Active", "Cancelled"):
        response = post_form(client, form_body({**base, "Status": status}))
        assert response.status_code == 200 and response.json() == {"code": 0}
    assert sorted(IncomingNotification.objects.values_list("event_type", flat=True)) == ["other", "other"]


def test_a_pay_for_another_amount_is_not_settled_and_not_acknowledged(client, pending_payment):
    response = post_form(client, form_body(pay_fields(pending_payment, Amount="100.00")))
    assert response.status_code == 500
    assert response.json() != {"code": 0}
    pending_payment.refresh_from_db()
    assert pending_payment.status == Payment.Status.PENDING
    assert IncomingNotification.objects.get().outcome == "failed"


def test_check_refuses_a_payment_of_an_account_closed_since_the_page_opened(client, pending_payment):
    from django.contrib.auth import get_user_model

    get_user_model().objects.filter(pk=pending_payment.customer_id).update(is_active=False)
    assert post_form(client, form_body(check_fields(pending_payment))).json() == {"code": 20}


def test_check_refuses_a_payment_page_opened_before_a_deletion_request(client, pending_payment):
    """A page opened before the customer asked to delete the account would buy a
    subscription that then blocks the deletion. (Found by the money review.)"""
    from accounts import personal_data

    personal_data.deletion_request_create(customer=pending_payment.customer)
    assert post_form(client, form_body(check_fields(pending_payment))).json() == {"code": 20}


@pytest.mark.parametrize(("reason_code", "reason", "expected"), [
    ("3004", "OutOfDate", "The customer's account is closed"),  # our Check answered {"code":20}
    ("3007", "UnableToConnect", "Our site could not confirm the payment; please try again"),
])
def test_a_fail_after_our_check_refused_is_worded_as_our_refusal_not_the_banks(
    client, pending_payment, reason_code, reason, expected
):
    """CloudPayments declines with ReasonCode 3001-3008 when our Check refused (or could not
    be read); the Fail must not tell the customer the bank declined with "OutOfDate"."""
    if reason_code == "3004":
        from django.contrib.auth import get_user_model

        get_user_model().objects.filter(pk=pending_payment.customer_id).update(is_active=False)
    response = post_form(client, form_body(fail_fields(pending_payment, ReasonCode=reason_code, Reason=reason)))
    assert response.json() == {"code": 0}
    payment = Payment.objects.get(pk=pending_payment.pk)
    assert payment.status == Payment.Status.FAILED
    assert (payment.failure_code, payment.failure_message) == (reason_code, expected)
    assert payment.refused_by_our_check
