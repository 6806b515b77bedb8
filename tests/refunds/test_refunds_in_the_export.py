"""Refunds in the accounting export (manage.py export_payments): a refund is reported in the
period it was recorded, with the date the money went back as `value_date`, so a bank transfer
dated into a month already exported does not change that month; and its method says how the
money moved (a card payment paid back by bank transfer is `bank_transfer`)."""

import csv
import importlib
import io
from datetime import datetime

import pytest
import time_machine
from django.apps import apps
from django.core.management import call_command

from billing.gateways import RefundResult
from billing.gateways.sandbox import SandboxGateway
from refunds import services
from refunds.models import Refund, RefundRequest
from soldee.business_days import ALMATY

from .conftest import grant


def at(m, d, hh=12, mm=0):
    return datetime(2026, m, d, hh, mm, tzinfo=ALMATY)


def export(first: str, last: str) -> list[dict]:
    out = io.StringIO()
    call_command("export_payments", "--from", first, "--to", last, stdout=out)
    return list(csv.DictReader(io.StringIO(out.getvalue())))


def refunds_of(rows) -> list[dict]:
    return [r for r in rows if r["type"] == "refund"]


@pytest.fixture
def to_transfer(customer, buy, staff, monkeypatch, django_capture_on_commit_callbacks):
    """A card payment of 10 March whose refund, approved the same day, the gateway refused:
    staff switched it to a bank transfer, not yet recorded."""
    payment = buy(customer)
    grant(payment, 60)
    monkeypatch.setattr(
        SandboxGateway,
        "refund",
        lambda self, **kw: RefundResult(approved=False, failure_message="card closed"),
    )
    with (
        time_machine.travel(at(3, 10, 14), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        request = services.refund_request_create(
            customer=customer,
            payment_id=payment.pk,
            ground=RefundRequest.Ground.LATE,
            explanation="An hour late",
        )
        refund = services.refund_request_approve(request_id=request.pk, by=staff)
        refund = services.refund_execute(refund_id=refund.pk)
        assert refund.status == Refund.Status.FAILED
        services.refund_pay_by_bank_transfer(
            refund_id=refund.pk, by=staff, reason="Gateway: card closed"
        )
    return Refund.objects.get(pk=refund.pk)


def record(refund, staff, *, on: datetime, dated: datetime, capture) -> Refund:
    with time_machine.travel(on, tick=False), capture(execute=True):
        return services.refund_record_bank_transfer(
            refund_id=refund.pk, reference="PP 42", by=staff, transferred_at=dated
        )


def test_a_transfer_dated_into_an_exported_month_is_reported_in_the_month_it_was_recorded(
    to_transfer, staff, django_capture_on_commit_callbacks
):
    # Accounting exports March on 2 April; staff record the transfer on 3 April from the bank
    # statement, which dates it 31 March.
    with time_machine.travel(at(4, 2), tick=False):
        march = export("2026-03-01", "2026-03-31")
    assert [r["type"] for r in march] == ["payment"]
    refund = record(
        to_transfer,
        staff,
        on=at(4, 3, 10),
        dated=at(3, 31, 16),
        capture=django_capture_on_commit_callbacks,
    )
    assert refund.succeeded_at == at(3, 31, 16) and refund.recorded_at == at(4, 3, 10)
    assert export("2026-03-01", "2026-03-31") == march  # the exported month is what it was
    (row,) = refunds_of(export("2026-04-01", "2026-04-30"))
    assert (row["date"], row["time"], row["value_date"]) == ("2026-04-03", "10:00:00", "2026-03-31")
    assert row["amount"] == "-29900.00" and row["reference"].endswith(f"/refund-{refund.pk}")


def test_a_card_payment_paid_back_by_bank_transfer_is_exported_as_a_bank_transfer(
    to_transfer, staff, django_capture_on_commit_callbacks
):
    refund = record(
        to_transfer,
        staff,
        on=at(3, 12, 9),
        dated=at(3, 11, 15),
        capture=django_capture_on_commit_callbacks,
    )
    payment, back = export("2026-03-01", "2026-03-31")
    assert (payment["method"], payment["gateway"]) == ("card", "sandbox")
    assert (back["method"], back["gateway"], back["gateway_ref"]) == (
        "bank_transfer",
        "bank",
        "bank-transfer:PP 42",
    )
    assert (back["date"], back["value_date"]) == ("2026-03-12", "2026-03-11")
    assert refund.payment.method == "card"  # the payment itself stays a card payment


def test_a_card_refund_is_exported_as_a_card_refund_on_its_day(
    customer, buy, staff, django_capture_on_commit_callbacks
):
    payment = buy(customer)
    grant(payment, 60)
    with (
        time_machine.travel(at(3, 10, 14), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        request = services.refund_request_create(
            customer=customer,
            payment_id=payment.pk,
            ground=RefundRequest.Ground.LATE,
            explanation="An hour late",
        )
        refund = services.refund_execute(
            refund_id=services.refund_request_approve(request_id=request.pk, by=staff).pk
        )
    assert (
        refund.status == Refund.Status.SUCCEEDED
        and refund.recorded_at == refund.succeeded_at == at(3, 10, 14)
    )
    (back,) = refunds_of(export("2026-03-01", "2026-03-31"))
    assert (back["method"], back["gateway"], back["date"], back["value_date"]) == (
        "card",
        "sandbox",
        "2026-03-10",
        "2026-03-10",
    )


def test_refunds_recorded_before_are_given_the_time_they_were_recorded(
    to_transfer, staff, django_capture_on_commit_callbacks
):
    """The migration: a transfer recorded before `recorded_at` existed gets the time of its
    `refund.succeeded` event, so it stays in the month it was exported in (or will be)."""
    refund = record(
        to_transfer,
        staff,
        on=at(4, 3, 10),
        dated=at(3, 31, 16),
        capture=django_capture_on_commit_callbacks,
    )
    Refund.objects.filter(pk=refund.pk).update(recorded_at=None)
    migration = importlib.import_module("refunds.migrations.0010_refund_recorded_at")
    migration.backfill(apps, None)
    refund.refresh_from_db()
    assert refund.recorded_at == at(4, 3, 10)
