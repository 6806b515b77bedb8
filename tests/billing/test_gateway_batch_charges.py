"""Charging a batch of saved tokens (renewals): Gateway.charge_tokens, and the sandbox's
one-transaction batch, which must answer exactly as its charges one by one would."""

import threading
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from billing.gateways import ChargeResult, ChargeStatus, Gateway, GatewayError, PaymentRequest
from billing.gateways.sandbox import CARD_APPROVE, CARD_DECLINE_RENEWALS, SandboxGateway
from billing.models import Payment, SandboxTransaction
from subscriptions import renewals
from subscriptions.models import RenewalAttempt, Term
from subscriptions.testing import seed_due_subscriptions

pytestmark = pytest.mark.django_db


def _request(key: str, amount: int = 2_990_000) -> PaymentRequest:
    return PaymentRequest(invoice_id=str(uuid.uuid4()), amount_minor=amount, currency="KZT", description="renewal",
                          customer_ref="c", customer_email="c@example.kz", return_url="https://x/", idempotency_key=key)


def _card(token: str, last4: str) -> None:
    SandboxTransaction.objects.create(kind="hosted", invoice_id=f"seed-{token}", idempotency_key=f"seed:{token}",
                                      amount_minor=1, currency="KZT", card_last4=last4, token=token,
                                      status="approved", decided_at=timezone.now())


def _answers(results):
    return [(r.status, r.failure_message, r.card_mask) for r in results]


def test_the_sandbox_batch_answers_as_its_charges_one_by_one_would():
    _card("tok_ok", CARD_APPROVE[-4:])
    _card("tok_bad", CARD_DECLINE_RENEWALS[-4:])
    gateway = SandboxGateway()
    batch = [(_request("b1"), "tok_ok"), (_request("b2"), "tok_bad"), (_request("b3"), "tok_unknown")]
    single = [(_request("s1"), "tok_ok"), (_request("s2"), "tok_bad"), (_request("s3"), "tok_unknown")]

    from_batch = gateway.charge_tokens(batch)
    one_by_one = [gateway.charge_token(request, token=token) for request, token in single]

    assert _answers(from_batch) == _answers(one_by_one) == [
        (ChargeStatus.APPROVED, "", "•••• 4242"),
        (ChargeStatus.DECLINED, "Insufficient funds", "•••• 0341"),
        (ChargeStatus.DECLINED, "Insufficient funds", ""),
    ]
    assert [r.amount_minor for r in from_batch] == [2_990_000] * 3
    # an unknown token stays declined on the next try too (its first decline has no card)
    assert gateway.charge_tokens([(_request("b4"), "tok_unknown")])[0].status == ChargeStatus.DECLINED
    assert gateway.charge_token(_request("s4"), token="tok_unknown").status == ChargeStatus.DECLINED


def test_a_key_charged_before_gets_its_first_answer_again_and_no_second_charge():
    _card("tok_ok", CARD_APPROVE[-4:])
    gateway = SandboxGateway()
    first = gateway.charge_tokens([(_request("k1"), "tok_ok")])[0]
    again = gateway.charge_tokens([(_request("k1"), "tok_ok"), (_request("k2"), "tok_ok")])
    assert again[0].gateway_ref == first.gateway_ref
    assert again[1].gateway_ref not in (None, first.gateway_ref)
    assert SandboxTransaction.objects.filter(kind="token_charge").count() == 2
    # and the one-by-one call agrees with the batch about the same key
    assert gateway.charge_token(_request("k2"), token="tok_ok").gateway_ref == again[1].gateway_ref
    assert SandboxTransaction.objects.filter(kind="token_charge").count() == 2


def test_a_failed_ledger_write_charges_nothing_and_reports_every_outcome_as_unknown(monkeypatch):
    _card("tok_ok", CARD_APPROVE[-4:])
    original = SandboxTransaction.objects.filter

    def filter_then_fail(*args, **kwargs):
        if "idempotency_key__in" in kwargs:  # after the INSERT, inside the ledger transaction
            raise RuntimeError("connection lost")
        return original(*args, **kwargs)

    monkeypatch.setattr(SandboxTransaction.objects, "filter", filter_then_fail)
    answers = SandboxGateway().charge_tokens([(_request("f1"), "tok_ok"), (_request("f2"), "tok_ok")])
    assert [type(a) for a in answers] == [GatewayError, GatewayError]
    assert not SandboxTransaction.objects.filter(kind="token_charge").exists()


class _Recording(Gateway):
    name = "recording"

    def __init__(self, together: int = 0):
        self.threads = set()
        # calls wait for each other in groups of `together`: only calls in flight at once pass
        self.barrier = threading.Barrier(together) if together else None

    def charge_token(self, request, *, token):
        self.threads.add(threading.get_ident())
        if self.barrier is not None:
            self.barrier.wait(timeout=10)
        if token == "timeout":
            raise GatewayError("read timeout")
        if token == "bug":
            raise KeyError("bug")
        return ChargeResult(status=ChargeStatus.APPROVED, gateway_ref=f"ref-{request.idempotency_key}")


def test_the_default_batch_charges_each_token_in_order_and_returns_what_each_call_raised():
    gateway = _Recording(together=4)
    charges = [(_request(f"r{i}"), "timeout" if i == 3 else "bug" if i == 5 else "ok") for i in range(8)]
    answers = gateway.charge_tokens(charges, threads=4)
    assert isinstance(answers[3], GatewayError) and isinstance(answers[5], KeyError)
    assert [a.gateway_ref for i, a in enumerate(answers) if i not in (3, 5)] == [
        f"ref-r{i}" for i in range(8) if i not in (3, 5)]
    assert len(gateway.threads) > 1  # calls overlapped
    serial = _Recording()
    assert len(serial.charge_tokens(charges, threads=1)) == 8 and len(serial.threads) == 1


def test_a_renewal_batch_the_sandbox_could_not_record_is_charged_once_by_reconciliation(
    plan, documents, time_machine, monkeypatch
):
    ids = seed_due_subscriptions(n=3, plan=plan)
    original = SandboxTransaction.objects.filter

    def fail_once(*args, **kwargs):
        if "idempotency_key__in" in kwargs:
            monkeypatch.setattr(SandboxTransaction.objects, "filter", original)
            raise RuntimeError("connection lost")
        return original(*args, **kwargs)

    monkeypatch.setattr(SandboxTransaction.objects, "filter", fail_once)
    assert renewals.renewals_run() == {"unknown": 3}
    assert not SandboxTransaction.objects.filter(kind="token_charge").exists()
    assert renewals.renewals_run() == {}  # outcome unknown: never claimed again
    time_machine.move_to(timezone.now() + timedelta(minutes=10), tick=False)
    assert renewals.renewals_reconcile() == {"succeeded": 3}
    assert SandboxTransaction.objects.filter(kind="token_charge").count() == 3
    assert Term.objects.filter(subscription_id__in=ids).count() == 3
    assert set(RenewalAttempt.objects.filter(subscription_id__in=ids).values_list("status", flat=True)) == {
        "succeeded"}
    assert Payment.objects.filter(purpose="subscription.renewal", status="succeeded").count() == 3
