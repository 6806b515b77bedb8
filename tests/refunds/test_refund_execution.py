"""Approval executes the refund through the gateway adapter exactly once: intent with an
idempotency key, then the call (no transaction open), then the result."""

import threading
from datetime import timedelta

import pytest
import time_machine
from django.db import IntegrityError, connection, transaction

from billing import services as billing
from billing.gateways import GatewayError
from billing.gateways.sandbox import SandboxGateway
from billing.models import Payment, SandboxTransaction
from refunds import services, tasks
from refunds.models import Refund, RefundRequest
from soldee.models import Event
from subscriptions.models import AccessGrant, Subscription

from .conftest import emails, grant

PRICE = 2_990_000


def gateway_refunds(payment) -> int:
    return SandboxTransaction.objects.filter(kind="refund", invoice_id=str(payment.public_id)).count()


def open_request(customer, payment, ground=RefundRequest.Ground.LATE) -> RefundRequest:
    return services.refund_request_create(customer=customer, payment_id=payment.pk, ground=ground,
                                          explanation="Access came an hour late")


@pytest.fixture
def paid(customer, buy):
    payment = buy(customer)
    grant(payment, 60)
    return payment


@pytest.fixture
def flaky_gateway(monkeypatch):
    """The gateway adapter fails once: before the call reaches the gateway ("before") or
    after the gateway refunded but the answer was lost ("after")."""
    original = SandboxGateway.refund
    state = {"calls": 0, "mode": "before"}

    def refund(self, **kwargs):
        state["calls"] += 1
        if state["calls"] == 1:
            if state["mode"] == "after":
                original(self, **kwargs)
            raise GatewayError("gateway timeout")
        return original(self, **kwargs)

    monkeypatch.setattr(SandboxGateway, "refund", refund)
    return state


def test_full_refund_is_executed_once_and_ends_the_subscription(customer, paid, staff, queued,
                                                                django_capture_on_commit_callbacks):
    request = open_request(customer, paid)
    with django_capture_on_commit_callbacks(execute=True):
        refund = services.refund_request_approve(request_id=request.pk, by=staff)
    assert refund.status == Refund.Status.PENDING and refund.is_full and refund.amount_minor == PRICE
    assert ("refund_execute", (refund.pk,)) in queued
    assert "emails/refund_approved" in emails(queued)

    with django_capture_on_commit_callbacks(execute=True):
        refund = services.refund_execute(refund_id=refund.pk)
    assert refund.status == Refund.Status.SUCCEEDED and refund.gateway_ref
    paid.refresh_from_db()
    assert paid.refunded_minor == PRICE
    assert gateway_refunds(paid) == 1
    subscription = Subscription.objects.get(customer=customer)
    assert subscription.status == Subscription.Status.ENDED
    assert subscription.end_reason == Subscription.EndReason.REFUNDED and subscription.next_charge_at is None
    assert AccessGrant.objects.get(term__payment=paid).status == AccessGrant.Status.REVOKED
    assert "emails/refund_completed" in emails(queued)

    # Running it again (task redelivery, sweeper) changes nothing.
    assert services.refund_execute(refund_id=refund.pk).status == Refund.Status.SUCCEEDED
    paid.refresh_from_db()
    assert paid.refunded_minor == PRICE and gateway_refunds(paid) == 1
    verbs = set(Event.objects.filter(customer=customer).values_list("verb", flat=True))
    assert {"refund_request.approved", "refund.created", "refund.succeeded", "payment.refunded",
            "subscription.ended", "access.revoked"} <= verbs


def test_partial_refund_keeps_the_subscription(customer, paid, staff):
    request = open_request(customer, paid)
    refund = services.refund_request_approve(request_id=request.pk, by=staff, amount_minor=1_000_000)
    assert not refund.is_full
    services.refund_execute(refund_id=refund.pk)
    paid.refresh_from_db()
    assert paid.refunded_minor == 1_000_000
    assert Subscription.objects.get(customer=customer).status == Subscription.Status.ACTIVE


def test_partial_refunds_summing_past_the_paid_amount_are_refused(customer, paid, staff):
    first = services.refund_request_approve(request_id=open_request(customer, paid).pk, by=staff,
                                            amount_minor=2_000_000)
    # Not yet executed: the approved amount is already reserved.
    second = open_request(customer, paid)
    with pytest.raises(services.RefundError, match="at most"):
        services.refund_request_approve(request_id=second.pk, by=staff, amount_minor=1_000_000)
    assert RefundRequest.objects.get(pk=second.pk).status == RefundRequest.Status.OPEN

    services.refund_execute(refund_id=first.pk)
    with pytest.raises(services.RefundError, match="at most"):
        services.refund_request_approve(request_id=second.pk, by=staff, amount_minor=990_001)
    last = services.refund_request_approve(request_id=second.pk, by=staff, amount_minor=990_000)
    assert last.is_full  # it returns everything left: the subscription ends
    services.refund_execute(refund_id=last.pk)
    paid.refresh_from_db()
    assert paid.refunded_minor == PRICE
    assert Subscription.objects.get(customer=customer).status == Subscription.Status.ENDED
    with pytest.raises(services.RefundError):
        open_request(customer, paid)


def test_billing_and_the_database_refuse_refunding_more_than_was_paid(customer, paid):
    with pytest.raises(billing.RefundRefused):
        with transaction.atomic():
            billing.payment_refund_record(payment_id=paid.pk, amount_minor=PRICE + 1, gateway_ref="x",
                                          refund_key="k")
    with pytest.raises(IntegrityError):
        with transaction.atomic():
            Payment.objects.filter(pk=paid.pk).update(refunded_minor=PRICE + 1)


def test_zero_or_negative_amounts_are_refused(customer, paid, staff):
    request = open_request(customer, paid)
    for amount in (0, -5):
        with pytest.raises(services.RefundError):
            services.refund_request_approve(request_id=request.pk, by=staff, amount_minor=amount)


def test_a_request_cannot_be_approved_twice(customer, paid, staff):
    request = open_request(customer, paid)
    services.refund_request_approve(request_id=request.pk, by=staff)
    with pytest.raises(services.RefundError, match="already"):
        services.refund_request_approve(request_id=request.pk, by=staff)
    with pytest.raises(services.RefundError, match="already"):
        services.refund_request_reject(request_id=request.pk, by=staff, reason="changed my mind")
    assert Refund.objects.count() == 1


def test_the_database_allows_one_refund_per_request(customer, paid, staff):
    refund = services.refund_request_approve(request_id=open_request(customer, paid).pk, by=staff)
    with pytest.raises(IntegrityError), transaction.atomic():
        Refund.objects.create(request=refund.request, payment=paid, customer=customer, amount_minor=1,
                              currency="KZT", is_full=False, idempotency_key="another")


@pytest.mark.parametrize("mode", ["before", "after"])
def test_gateway_failure_then_retry_refunds_once(customer, paid, staff, flaky_gateway, mode):
    flaky_gateway["mode"] = mode
    refund = services.refund_request_approve(request_id=open_request(customer, paid).pk, by=staff)
    with pytest.raises(GatewayError):
        services.refund_execute(refund_id=refund.pk)
    refund.refresh_from_db()
    assert refund.status == Refund.Status.EXECUTING  # visible and retryable
    assert "timeout" in refund.last_error
    paid.refresh_from_db()
    assert paid.refunded_minor == 0

    refund = services.refund_execute(refund_id=refund.pk)
    assert refund.status == Refund.Status.SUCCEEDED and refund.attempts == 2
    paid.refresh_from_db()
    assert paid.refunded_minor == PRICE
    assert gateway_refunds(paid) == 1
    assert flaky_gateway["calls"] == 2


def test_task_retries_with_backoff_on_gateway_error(customer, paid, staff, flaky_gateway, monkeypatch):
    refund = services.refund_request_approve(request_id=open_request(customer, paid).pk, by=staff)
    retried = []

    class Retry(Exception):
        pass

    def fake_retry(*, exc, countdown):
        retried.append((exc, countdown))
        return Retry()

    monkeypatch.setattr(tasks.refund_execute, "retry", fake_retry)
    with pytest.raises(Retry):
        tasks.refund_execute.run(refund.pk)
    assert isinstance(retried[0][0], GatewayError) and retried[0][1] == 30
    assert tasks.refund_execute.run(refund.pk) == Refund.Status.SUCCEEDED
    assert gateway_refunds(paid) == 1


def test_sweeper_requeues_stale_refunds(customer, paid, staff, queued):
    refund = services.refund_request_approve(request_id=open_request(customer, paid).pk, by=staff)
    assert tasks.refund_sweep() == 0
    with time_machine.travel(refund.updated_at + timedelta(minutes=16), tick=False):
        assert tasks.refund_sweep() == 1
    assert ("refund_execute", (refund.pk,)) in queued


def test_gateway_refusal_fails_the_refund_and_staff_can_retry(customer, paid, staff, monkeypatch, queued,
                                                              django_capture_on_commit_callbacks):
    refund = services.refund_request_approve(request_id=open_request(customer, paid).pk, by=staff)
    original = SandboxGateway.refund
    from billing.gateways import RefundResult

    monkeypatch.setattr(SandboxGateway, "refund",
                        lambda self, **kw: RefundResult(approved=False, failure_message="card closed"))
    with django_capture_on_commit_callbacks(execute=True):
        refund = services.refund_execute(refund_id=refund.pk)
    assert refund.status == Refund.Status.FAILED and "card closed" in refund.last_error
    assert any(name == "staff_alert" for name, _ in queued)
    # A plain re-run (task redelivery) leaves a failed refund alone; staff retry explicitly.
    assert services.refund_execute(refund_id=refund.pk).status == Refund.Status.FAILED
    monkeypatch.setattr(SandboxGateway, "refund", original)
    refund = services.refund_execute(refund_id=refund.pk, by=staff, retry_failed=True)
    assert refund.status == Refund.Status.SUCCEEDED
    paid.refresh_from_db()
    assert paid.refunded_minor == PRICE


def test_admin_retry_action_goes_through_the_service(client, customer, paid, staff, flaky_gateway):
    refund = services.refund_request_approve(request_id=open_request(customer, paid).pk, by=staff)
    with pytest.raises(GatewayError):
        services.refund_execute(refund_id=refund.pk)
    client.force_login(staff)
    response = client.post("/admin/refunds/refund/", {"action": "retry", "_selected_action": [refund.pk]},
                           follow=True)
    assert response.status_code == 200
    refund.refresh_from_db()
    assert refund.status == Refund.Status.SUCCEEDED
    assert gateway_refunds(paid) == 1


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_approvals_make_one_refund(require_postgres, customer, buy, staff):
    payment = buy(customer)
    request = open_request(customer, payment)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def approve():
        try:
            barrier.wait(timeout=10)
            services.refund_request_approve(request_id=request.pk, by=staff)
            outcomes.append("approved")
        except services.RefundError:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=approve) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(outcomes) == ["approved", "refused"]
    assert Refund.objects.filter(request=request).count() == 1
    refund = Refund.objects.get(request=request)

    # Two workers executing the same refund at once still refund once.
    barrier = threading.Barrier(2)

    def execute():
        try:
            barrier.wait(timeout=10)
            services.refund_execute(refund_id=refund.pk)
        finally:
            connection.close()

    threads = [threading.Thread(target=execute) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    payment.refresh_from_db()
    assert payment.refunded_minor == PRICE
    assert gateway_refunds(payment) == 1
    assert Refund.objects.get(pk=refund.pk).status == Refund.Status.SUCCEEDED


def test_a_retry_past_the_gateways_idempotency_window_is_stopped_for_staff(
    customer, buy, staff, monkeypatch, time_machine
):
    """CloudPayments remembers X-Request-ID for one hour: a refund whose answer was lost
    is not re-sent blind after that (it could refund twice); staff check and decide."""
    from django.utils import timezone

    payment = buy(customer)
    request = open_request(customer, payment)
    refund = services.refund_request_approve(request_id=request.pk, by=staff)
    monkeypatch.setattr(SandboxGateway, "idempotency_window_seconds", 3600)
    monkeypatch.setattr(SandboxGateway, "refund", lambda self, **kw: (_ for _ in ()).throw(GatewayError("timeout")))
    with pytest.raises(GatewayError):
        services.refund_execute(refund_id=refund.pk)
    monkeypatch.undo()
    monkeypatch.setattr(SandboxGateway, "idempotency_window_seconds", 3600)
    time_machine.move_to(timezone.now() + timedelta(minutes=58), tick=False)
    result = services.refund_execute(refund_id=refund.pk)
    assert result.status == Refund.Status.FAILED and "idempotency window" in result.last_error
    assert gateway_refunds(payment) == 0


def test_a_failed_refund_holds_its_amount_so_money_is_never_returned_twice(
    client, customer, paid, staff, monkeypatch, django_capture_on_commit_callbacks,
):
    """A failed refund may be retried (and "failed" also covers a gateway that refunded
    while the books did not record it): a second request cannot promise the same money,
    and a retry of a refund whose money went back another way is not sent."""
    from billing.gateways import RefundResult

    first = services.refund_request_approve(request_id=open_request(customer, paid).pk, by=staff)
    original = SandboxGateway.refund
    monkeypatch.setattr(SandboxGateway, "refund",
                        lambda self, **kw: RefundResult(approved=False, failure_message="card closed"))
    with django_capture_on_commit_callbacks(execute=True):
        assert services.refund_execute(refund_id=first.pk).status == Refund.Status.FAILED
    monkeypatch.setattr(SandboxGateway, "refund", original)
    with pytest.raises(services.RefundError, match="already under way"):
        open_request(customer, paid, ground=RefundRequest.Ground.NO_ACCESS)
    # The money went back by another way meanwhile (recorded on the payment): no second send.
    billing.payment_refund_record(payment_id=paid.pk, amount_minor=PRICE, gateway_ref="manual-1",
                                  refund_key="elsewhere", by=staff)
    with pytest.raises(services.RefundError, match="Not sent again"):
        services.refund_execute(refund_id=first.pk, by=staff, retry_failed=True)
    assert gateway_refunds(paid) == 0 and Refund.objects.get(pk=first.pk).status == Refund.Status.FAILED
    client.force_login(staff)
    response = client.post("/admin/refunds/refund/", {"action": "retry", "_selected_action": [first.pk]},
                           follow=True)
    assert "Not sent again" in response.content.decode() and gateway_refunds(paid) == 0
