"""A paid payment that bought nothing (a second checkout paid in parallel with the first)
gets a refund request opened on the customer's behalf, ground "access not granted"
(clause 7); staff approve it like any other and the money goes back once, while the
subscription the first payment bought runs on."""

from datetime import timedelta

import pytest
import time_machine

from billing.gateways import ChargeResult, ChargeStatus
from billing.models import Payment, SandboxTransaction
from billing.services import payment_settle
from refunds import services
from refunds.models import Refund, RefundRequest
from soldee.models import Event
from subscriptions.models import Subscription
from subscriptions.services import checkout_start

from .conftest import PAID_AT, emails

pytestmark = pytest.mark.django_db


def _settle(payment, django_capture_on_commit_callbacks):
    txn = SandboxTransaction.objects.create(
        kind="hosted", status="approved", idempotency_key=f"hosted:{payment.idempotency_key}",
        invoice_id=str(payment.public_id), amount_minor=payment.amount_minor, currency=payment.currency,
        decided_at=PAID_AT)
    with django_capture_on_commit_callbacks(execute=True):
        payment_settle(public_id=payment.public_id, charge=ChargeResult(
            status=ChargeStatus.APPROVED, gateway_ref=str(txn.id), amount_minor=payment.amount_minor,
            currency="KZT", card_token=f"tok-{payment.pk}"), source="test")


def pay_in_two_tabs(customer, plan, documents, capture):
    """Two checkouts started in two tabs, both paid: the second bought nothing."""
    ids = [d.pk for d in documents.values()]
    with time_machine.travel(PAID_AT, tick=False):
        first, second = (checkout_start(customer=customer, plan=plan, document_ids=ids, token=t, client_ip=None,
                                        user_agent="") for t in ("tab-1", "tab-2"))
        _settle(first, capture)
        _settle(second, capture)
    first.refresh_from_db()
    second.refresh_from_db()
    return first, second


@pytest.fixture
def two_paid(customer, plan, documents, django_capture_on_commit_callbacks):
    return pay_in_two_tabs(customer, plan, documents, django_capture_on_commit_callbacks)


def test_the_payment_that_bought_nothing_gets_a_refund_request_and_is_returned_once(
        customer, two_paid, staff, enqueued, queued, mailoutbox, django_capture_on_commit_callbacks):
    first, second = two_paid
    assert Subscription.objects.get(customer=customer).status == Subscription.Status.ACTIVE
    assert "refunds.tasks.refund_request_for_unapplied" in enqueued.names()
    from soldee.tasks import staff_alert

    alerts = [args for name, args in queued if name == "staff_alert"]
    assert len(alerts) == 1 and not mailoutbox  # staff alerted, from a worker
    staff_alert(*alerts[0])
    assert any("bought nothing" in m.subject for m in mailoutbox)
    with django_capture_on_commit_callbacks(execute=True):
        assert enqueued.run("refunds.tasks.refund_request_for_unapplied") == 1

    request = RefundRequest.objects.get()
    assert (request.payment, request.customer, request.ground, request.status) == (
        second, customer, RefundRequest.Ground.NO_ACCESS, RefundRequest.Status.OPEN)
    assert request.eligible is True  # by the records: this payment started no term
    assert "No paid term was started for this payment." in request.evaluation["evidence"]
    assert request.explanation.startswith("Opened by Soldee on your behalf")  # the customer's language (en)
    event = Event.objects.get(verb="refund_request.opened_for_customer")
    assert event.actor_id is None and event.actor_kind == Event.ActorKind.SYSTEM
    assert "emails/refund_request_opened" in emails(queued)

    # Opened once: the task again (redelivery) or a second unapplied notice opens nothing.
    assert services.refund_request_open_unapplied(payment_id=second.pk) is None
    assert services.refund_request_open_unapplied(payment_id=first.pk) is None  # it bought the term
    assert RefundRequest.objects.count() == 1

    with django_capture_on_commit_callbacks(execute=True):
        refund = services.refund_request_approve(request_id=request.pk, by=staff)
    with django_capture_on_commit_callbacks(execute=True):
        refund = services.refund_execute(refund_id=refund.pk)
    assert refund.status == Refund.Status.SUCCEEDED and refund.amount_minor == second.amount_minor
    second.refresh_from_db()
    assert second.refunded_minor == second.amount_minor
    assert SandboxTransaction.objects.filter(kind="refund", invoice_id=str(second.public_id)).count() == 1
    # The subscription the first payment bought runs on.
    subscription = Subscription.objects.get(customer=customer)
    assert subscription.status == Subscription.Status.ACTIVE and subscription.terms.get().payment == first


def test_no_request_is_opened_when_the_customer_already_asked(customer, two_paid, enqueued,
                                                             django_capture_on_commit_callbacks):
    _first, second = two_paid
    own = services.refund_request_create(customer=customer, payment_id=second.pk,
                                         ground=RefundRequest.Ground.NO_ACCESS, explanation="I paid twice")
    with django_capture_on_commit_callbacks(execute=True):
        enqueued.run("refunds.tasks.refund_request_for_unapplied")
    assert list(RefundRequest.objects.all()) == [own]


def test_the_customer_email_says_what_happened(customer, two_paid, enqueued, queued, mailoutbox,
                                               django_capture_on_commit_callbacks):
    from refunds import tasks

    _first, second = two_paid
    with django_capture_on_commit_callbacks(execute=True):
        enqueued.run("refunds.tasks.refund_request_for_unapplied")
    request = RefundRequest.objects.get()
    tasks.customer_email.run("emails/refund_request_opened", "refund_request", request.pk)
    mail = mailoutbox[-1]
    assert mail.to == [customer.email]
    assert f"#{request.pk}" in mail.subject
    assert f"/refunds/requests/{request.pk}/" in mail.body or str(request.pk) in mail.body
    assert Payment.objects.get(pk=second.pk).amount_display in mail.body


def test_the_request_and_the_email_speak_the_customers_language(customer, two_paid, enqueued, mailoutbox,
                                                                django_capture_on_commit_callbacks):
    from refunds import tasks

    customer.language = "ru"
    customer.save(update_fields=["language"])
    with django_capture_on_commit_callbacks(execute=True):
        enqueued.run("refunds.tasks.refund_request_for_unapplied")
    request = RefundRequest.objects.get()
    assert request.explanation.startswith("Открыта Soldee от вашего имени")
    tasks.customer_email.run("emails/refund_request_opened", "refund_request", request.pk)
    assert mailoutbox[-1].subject == f"Soldee: мы вернём платёж (заявка на возврат № {request.pk})"


def test_a_lost_message_is_made_good_by_the_sweep(customer, two_paid, enqueued):
    from refunds.tasks import unapplied_payments_sweep

    _first, second = two_paid
    enqueued.calls.clear()  # the broker lost the task
    assert not RefundRequest.objects.exists()
    with time_machine.travel(PAID_AT + timedelta(minutes=15), tick=False):
        assert unapplied_payments_sweep.run() == 1
        assert RefundRequest.objects.get().payment == second
        assert unapplied_payments_sweep.run() == 0  # once


def test_a_broker_refusing_the_alert_does_not_stop_the_refund_request(
        customer, plan, documents, enqueued, monkeypatch, django_capture_on_commit_callbacks):
    from soldee import tasks

    def down(*args, **kwargs):
        raise OSError("broker down")

    monkeypatch.setattr(tasks.staff_alert, "delay", down)
    pay_in_two_tabs(customer, plan, documents, django_capture_on_commit_callbacks)
    assert "refunds.tasks.refund_request_for_unapplied" in enqueued.names()
