"""Settling a batch (renewals): one transaction, each payment settled once, a bad charge
left out without stopping the others, receipts numbered consecutively, follow-ups sent
as one message per batch."""

from datetime import timedelta

import pytest
from django.utils import timezone

from billing import purposes, services
from billing.gateways import ChargeResult, ChargeStatus
from billing.models import Payment, PaymentDocument, SandboxTransaction
from soldee.models import Event
from subscriptions import renewals
from subscriptions.models import AccessGrant, RenewalAttempt, Subscription, Term
from subscriptions.testing import seed_due_subscriptions

pytestmark = pytest.mark.django_db


def _claimed(plan, n, **kw):
    ids = seed_due_subscriptions(n=n, plan=plan, history=True, **kw)
    attempt_ids = renewals.renewals_claim()
    payments = list(Payment.objects.filter(renewal_attempt__pk__in=attempt_ids).order_by("pk"))
    return ids, payments


def _approve(payment, **kw):
    return (payment.public_id, ChargeResult(status=ChargeStatus.APPROVED, amount_minor=kw.get("amount", payment.amount_minor),
                                            currency=payment.currency, gateway_ref=f"ref-{payment.pk}"))


def test_a_batch_settles_each_payment_once_with_term_access_receipt_and_events(
    plan, documents, django_capture_on_commit_callbacks, enqueued
):
    ids, payments = _claimed(plan, 5)
    with django_capture_on_commit_callbacks(execute=True):
        out = services.payments_settle(results=[_approve(p) for p in payments], source="test")
    assert [newly for _p, newly in out] == [True] * 5
    assert Payment.objects.filter(pk__in=[p.pk for p in payments], status="succeeded").count() == 5
    assert Term.objects.filter(subscription_id__in=ids, number=2).count() == 5
    assert AccessGrant.objects.filter(term__subscription_id__in=ids, term__number=2).count() == 5
    receipts = sorted(PaymentDocument.objects.filter(payment__in=payments, doc_type="receipt").values_list("seq", flat=True))
    assert receipts == list(range(receipts[0], receipts[0] + 5))  # consecutive, one lock
    for verb in ("payment.succeeded", "term.started", "subscription.renewed", "document.receipt_issued"):
        assert Event.objects.filter(verb=verb).count() == 5, verb
    # the documents in force were accepted at the first purchase: no acceptance by continued use
    assert not Event.objects.filter(verb__in=["offer.accepted", "offer.amendment_accepted"]).exists()
    # one message per batch for each follow-up, not one per payment
    assert enqueued.names().count("subscriptions.tasks.access_grant_many") == 1
    assert enqueued.names().count("billing.tasks.receipt_email_many") == 1
    assert enqueued.names().count("billing.document_tasks.document_render_many") == 1
    for sub in Subscription.objects.filter(pk__in=ids):
        assert sub.next_charge_at == sub.current_period_end - renewals.lead()

    again = services.payments_settle(results=[_approve(p) for p in payments], source="test")
    assert [newly for _p, newly in again] == [False] * 5
    assert PaymentDocument.objects.filter(payment__in=payments, doc_type="receipt").count() == 5
    assert Term.objects.filter(subscription_id__in=ids).count() == 10


def test_a_charge_that_cannot_settle_is_left_out_and_the_rest_of_the_batch_settles(plan, documents):
    _ids, payments = _claimed(plan, 3)
    bad = payments[1]
    results = [_approve(payments[0]), _approve(bad, amount=bad.amount_minor + 1), _approve(payments[2])]
    out = services.payments_settle(results=results, source="test")
    assert {p.pk for p, _n in out} == {payments[0].pk, payments[2].pk}
    bad.refresh_from_db()
    assert bad.status == Payment.Status.PROCESSING and not PaymentDocument.objects.filter(payment=bad).exists()
    with pytest.raises(services.PaymentMismatch):  # one payment at a time is strict
        services.payment_settle(public_id=bad.public_id, source="test",
                                charge=_approve(bad, amount=bad.amount_minor + 1)[1])


def test_a_failing_batch_writes_nothing_and_reconciliation_settles_it(plan, documents, monkeypatch, time_machine):
    ids = seed_due_subscriptions(n=3, plan=plan, history=True)
    real = renewals.renewals_paid

    def broken(**kw):
        real(**kw)
        raise RuntimeError("disk full")

    monkeypatch.setitem(purposes._registry, renewals.PURPOSE_RENEWAL, purposes.PurposeHandlers(
        on_settled=renewals.renewal_paid, on_settled_many=broken, on_failed=renewals.renewal_declined))
    assert renewals.renewals_run() == {"error": 3}
    assert SandboxTransaction.objects.filter(kind="token_charge").count() == 3
    assert not Term.objects.filter(subscription_id__in=ids, number=2).exists()
    assert Payment.objects.filter(purpose=renewals.PURPOSE_RENEWAL, status="processing").count() == 3
    monkeypatch.undo()
    time_machine.move_to(timezone.now() + timedelta(minutes=6), tick=False)
    assert renewals.renewals_reconcile() == {"approved": 3}
    assert Term.objects.filter(subscription_id__in=ids, number=2).count() == 3
    assert SandboxTransaction.objects.filter(kind="token_charge").count() == 3  # no second charge
    assert RenewalAttempt.objects.filter(subscription_id__in=ids, status="succeeded").count() == 3


def test_one_payment_that_breaks_its_batch_keeps_only_itself_unsettled(plan, documents, monkeypatch):
    ids = seed_due_subscriptions(n=3, plan=plan, history=True)
    poisoned = min(ids)
    real = renewals.renewals_paid

    def breaks_on_one(**kw):
        if any(p.purpose_ref == str(poisoned) for p in kw["payments"]):
            raise RuntimeError("a row that cannot be written")
        return real(**kw)

    monkeypatch.setitem(purposes._registry, renewals.PURPOSE_RENEWAL, purposes.PurposeHandlers(
        on_settled=renewals.renewal_paid, on_settled_many=breaks_on_one, on_failed=renewals.renewal_declined))
    assert renewals.renewals_run() == {"succeeded": 2, "error": 1}
    assert set(Term.objects.filter(number=2).values_list("subscription_id", flat=True)) == set(ids) - {poisoned}


def test_a_charge_that_cannot_settle_is_recorded_and_staff_are_told(
    plan, documents, mailoutbox, enqueued, django_capture_on_commit_callbacks
):
    _ids, payments = _claimed(plan, 2)
    bad = payments[0]
    with django_capture_on_commit_callbacks(execute=True):
        services.payments_settle(results=[_approve(bad, amount=bad.amount_minor * 2), _approve(payments[1])],
                                 source="test")
    refused = Event.objects.get(verb="payment.settlement_refused")
    assert refused.subject_id == str(bad.pk) and "we asked" in refused.data["reason"]
    assert not mailoutbox  # the settlement waits for no mail server: a worker sends the alert
    assert enqueued.run("soldee.tasks.staff_alert") == 1
    assert any("do not match" in m.subject and str(bad.public_id) in m.body for m in mailoutbox)


def test_reconciliation_goes_on_past_a_payment_that_cannot_settle(plan, documents, monkeypatch, time_machine):
    ids = seed_due_subscriptions(n=3, plan=plan, history=True)
    renewals.renewals_claim()  # the worker died before charging
    time_machine.move_to(timezone.now() + timedelta(minutes=6), tick=False)
    first = RenewalAttempt.objects.filter(subscription_id__in=ids).order_by("created_at", "pk").first()
    real = renewals.renewal_charge

    def fails_first(*, attempt_id):
        if attempt_id == first.pk:
            raise RuntimeError("cannot settle")
        return real(attempt_id=attempt_id)

    monkeypatch.setattr(renewals, "renewal_charge", fails_first)
    assert renewals.renewals_reconcile() == {"error": 1, "succeeded": 2}
