"""A renewal charge's answer can come late or twice: the gateway's notification before our
call returns, a decline after the term was paid another way, reconciliation re-sending a
charge that never reached the gateway. Whatever the order, a paid term stays paid, the
schedule stays right and the card is charged once per term. (Found by the money review.)"""

from datetime import timedelta

import pytest
from django.utils import timezone

from billing import services as billing
from billing.gateways import ChargeResult, ChargeStatus, GatewayError, sandbox
from billing.gateways.sandbox import SandboxGateway
from billing.models import Payment
from subscriptions import renewals
from subscriptions.models import TERM_PAID, RenewalAttempt, Subscription, Term

from ..billing.helpers import pay_on_sandbox
from .test_renewals import subscribe, token_charges

pytestmark = pytest.mark.django_db


def _notification_first_then_timeout(monkeypatch, apply):
    """Our call times out, but the gateway decided and its notification arrived first."""
    def charge_tokens(self, charges, *, threads=1):
        for request, _token in charges:
            apply(request)
        return [GatewayError("read timeout") for _ in charges]

    monkeypatch.setattr(SandboxGateway, "charge_tokens", charge_tokens)


def test_a_renewal_settled_by_its_notification_is_not_made_unknown_by_the_late_timeout(
        customer, plan, documents, time_machine, monkeypatch):
    sub = subscribe(customer, plan, documents)
    time_machine.move_to(sub.current_period_end - timedelta(hours=23), tick=False)
    _notification_first_then_timeout(monkeypatch, lambda request: billing.payment_settle(
        public_id=request.invoice_id, source="notification:pay",
        charge=ChargeResult(status=ChargeStatus.APPROVED, gateway_ref="tx-1", amount_minor=request.amount_minor,
                            currency=request.currency)))
    renewals.renewals_run()
    monkeypatch.undo()
    attempt = RenewalAttempt.objects.get(subscription=sub, term_number=2)
    assert attempt.status == RenewalAttempt.Status.SUCCEEDED and attempt.payment.status == "succeeded"
    # The term after renews as usual (a stalled "unknown" attempt used to block it for good).
    sub.refresh_from_db()
    time_machine.move_to(sub.current_period_end - timedelta(hours=23), tick=False)
    renewals.renewals_run()
    assert Term.objects.filter(subscription=sub).count() == 3


def test_a_decline_by_notification_before_the_timeout_keeps_the_retry_schedule(
        customer, plan, documents, time_machine, monkeypatch):
    sub = subscribe(customer, plan, documents)
    time_machine.move_to(sub.current_period_end - timedelta(hours=23), tick=False)
    _notification_first_then_timeout(monkeypatch, lambda request: billing.payment_fail(
        public_id=request.invoice_id, source="notification:fail",
        charge=ChargeResult(status=ChargeStatus.DECLINED, failure_code="5051", failure_message="Insufficient funds")))
    renewals.renewals_run()
    monkeypatch.undo()
    assert RenewalAttempt.objects.get(subscription=sub, term_number=2).status == RenewalAttempt.Status.DECLINED
    sub.refresh_from_db()
    assert sub.status == Subscription.Status.PAST_DUE and sub.next_charge_at is not None
    time_machine.move_to(sub.next_charge_at + timedelta(minutes=1), tick=False)
    renewals.renewals_run()  # the scheduled retry happens (the sandbox card approves now)
    assert Term.objects.filter(subscription=sub).count() == 2


def _past_due_with_a_retry_claimed(customer, plan, documents, time_machine):
    sub = subscribe(customer, plan, documents, card=sandbox.CARD_DECLINE_RENEWALS)
    time_machine.move_to(sub.current_period_end - timedelta(hours=23), tick=False)
    renewals.renewals_run()
    sub.refresh_from_db()
    assert sub.status == Subscription.Status.PAST_DUE
    time_machine.move_to(sub.next_charge_at + timedelta(minutes=1), tick=False)
    ids = renewals.renewals_claim()
    assert len(ids) == 1
    return sub, ids


def test_the_customer_cannot_pay_with_another_card_while_the_saved_card_retry_is_at_the_gateway(
        customer, plan, documents, time_machine):
    sub, _ids = _past_due_with_a_retry_claimed(customer, plan, documents, time_machine)
    with pytest.raises(ValueError, match="saved card is being charged for this term"):
        renewals.renewal_customer_payment(subscription=sub, token="tab", client_ip=None, user_agent="")


def test_a_late_decline_for_a_term_paid_another_way_changes_nothing(customer, plan, documents, time_machine):
    sub, ids = _past_due_with_a_retry_claimed(customer, plan, documents, time_machine)
    # The retry's answer is long in coming; the customer pays the term with another card.
    time_machine.move_to(timezone.now() + timedelta(hours=2), tick=False)
    payment = renewals.renewal_customer_payment(subscription=sub, token="tab", client_ip=None, user_agent="")
    pay_on_sandbox(payment, card=sandbox.CARD_APPROVE)
    billing.payment_refresh_from_gateway(payment=payment)
    sub.refresh_from_db()
    paid_until = sub.current_period_end
    assert sub.status == Subscription.Status.ACTIVE
    renewals.renewals_charge(ids)  # the old card's decline arrives now
    sub.refresh_from_db()
    assert sub.status == Subscription.Status.ACTIVE and sub.current_period_end == paid_until
    assert sub.next_charge_at == paid_until - renewals.lead()  # the normal schedule, not "retry tomorrow"
    assert sub.failed_attempts == 0
    assert Term.objects.filter(subscription=sub, starts_at__lte=timezone.now(), ends_at__gt=timezone.now()).exists()


def test_reconciliation_does_not_charge_a_term_paid_another_way(customer, plan, documents, time_machine,
                                                                monkeypatch):
    sub = subscribe(customer, plan, documents, card=sandbox.CARD_DECLINE_RENEWALS)
    time_machine.move_to(sub.current_period_end - timedelta(hours=23), tick=False)
    renewals.renewals_run()  # declined: past due
    sub.refresh_from_db()
    monkeypatch.setattr(SandboxGateway, "charge_tokens",
                        lambda self, charges, threads=1: [GatewayError("cannot connect") for _ in charges])
    time_machine.move_to(sub.next_charge_at + timedelta(minutes=1), tick=False)
    renewals.renewals_run()  # the retry never reached the gateway: unknown
    monkeypatch.undo()
    unknown = RenewalAttempt.objects.get(subscription=sub, status=RenewalAttempt.Status.UNKNOWN)
    time_machine.move_to(timezone.now() + timedelta(hours=2), tick=False)  # no longer "in flight"
    payment = renewals.renewal_customer_payment(subscription=sub, token="tab", client_ip=None, user_agent="")
    pay_on_sandbox(payment, card=sandbox.CARD_APPROVE)
    billing.payment_refresh_from_gateway(payment=payment)
    charges_before = token_charges()
    renewals.renewals_reconcile(now=timezone.now() + timedelta(minutes=10))
    assert token_charges() == charges_before  # the old card is not charged for the paid term
    unknown.refresh_from_db()
    assert unknown.status == RenewalAttempt.Status.DECLINED and unknown.payment.failure_code == TERM_PAID
    assert Payment.objects.filter(customer=customer, purpose="subscription.renewal", status="succeeded").count() == 1
    sub.refresh_from_db()
    assert sub.status == Subscription.Status.ACTIVE and sub.failed_attempts == 0
