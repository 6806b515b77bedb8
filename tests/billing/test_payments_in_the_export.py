"""Payments in the accounting export (manage.py export_payments): a payment is reported in the
period the portal recorded it, with the date the money was taken as `value_date`, so an
invoice marked paid from the bank statement, or a gateway's answer reconciled late, dated
into a month already exported does not change that month. Only such a late recording sets
`Payment.recorded_at`: a card payment or a renewal batch writes none (the hot path)."""

import csv
import importlib
import io
from datetime import datetime, timedelta

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from billing import documents as billing_documents
from billing.gateways import GatewayError
from billing.gateways.sandbox import SandboxGateway
from billing.models import RECORDED_LATE_AFTER, Payment
from billing.services import payment_apply_result
from soldee.business_days import ALMATY
from soldee.models import Event
from subscriptions import renewals
from subscriptions.models import RenewalAttempt, Subscription

from .helpers import buy, pay_on_sandbox, start_checkout

pytestmark = pytest.mark.django_db


def at(m, d, hh=12, mm=0):
    return datetime(2026, m, d, hh, mm, tzinfo=ALMATY)


def export(first: str, last: str) -> list[dict]:
    out = io.StringIO()
    call_command("export_payments", "--from", first, "--to", last, stdout=out)
    return list(csv.DictReader(io.StringIO(out.getvalue())))


def row_of(rows, payment) -> dict:
    (row,) = [r for r in rows if r["reference"] == str(payment.public_id)]
    return row


@pytest.fixture
def late_invoice(company, customer, staff, plan, documents, time_machine, django_capture_on_commit_callbacks):
    """A card payment on 10 March; an invoice issued on 30 March, credited by the bank on
    31 March at 16:00, that staff mark paid from the statement on 3 April at 10:00 — after
    accounting exported March on 2 April. Returns (card payment, invoice, March export)."""
    time_machine.move_to(at(3, 10, 14), tick=False)
    card = buy(customer, plan, documents)
    time_machine.move_to(at(3, 30, 9), tick=False)
    invoice = billing_documents.invoice_issue(customer=company, plan=plan)
    time_machine.move_to(at(4, 2, 9), tick=False)
    march = export("2026-03-01", "2026-03-31")
    time_machine.move_to(at(4, 3, 10), tick=False)
    with django_capture_on_commit_callbacks(execute=True):
        billing_documents.invoice_mark_paid(invoice_id=invoice.pk, by=staff, received_at=at(3, 31, 16))
    invoice.refresh_from_db()
    return card, invoice, march


def test_an_invoice_paid_into_an_exported_month_is_reported_in_the_month_it_was_recorded(late_invoice):
    card, invoice, march = late_invoice
    payment = invoice.payment
    assert payment.paid_at == at(3, 31, 16) and payment.recorded_at == at(4, 3, 10)
    assert invoice.paid_at == at(3, 31, 16)  # the date of payment stays the bank's (clause 2.3)
    assert [r["reference"] for r in march] == [str(card.public_id)]
    assert export("2026-03-01", "2026-03-31") == march  # the exported month is what it was
    (row,) = export("2026-04-01", "2026-04-30")
    assert row["reference"] == str(payment.public_id) and row["type"] == "payment"
    assert (row["date"], row["time"], row["value_date"]) == ("2026-04-03", "10:00:00", "2026-03-31")
    assert (row["method"], row["gateway_ref"], row["amount"]) == (
        "bank_transfer", f"bank:{invoice.number}", "29900.00")


def test_an_invoice_recorded_the_moment_it_was_credited_has_no_recorded_at(
        company, staff, plan, documents, time_machine):
    time_machine.move_to(at(3, 30, 9), tick=False)
    invoice = billing_documents.invoice_issue(customer=company, plan=plan)
    time_machine.move_to(at(3, 31, 16), tick=False)
    payment = billing_documents.invoice_mark_paid(
        invoice_id=invoice.pk, by=staff, received_at=at(3, 31, 16) - RECORDED_LATE_AFTER)
    assert payment.recorded_at is None and Payment.objects.get(pk=payment.pk).recorded_at is None
    assert row_of(export("2026-03-31", "2026-03-31"), payment)["time"] == "15:50:00"


def test_a_card_payment_is_reported_when_it_was_paid(customer, plan, documents, time_machine):
    """The gateway's own time, its notification a few minutes later: recorded when paid."""
    time_machine.move_to(at(3, 10, 14), tick=False)
    payment = start_checkout(None, customer, plan, documents)
    pay_on_sandbox(payment)  # the gateway decides at 14:00
    time_machine.move_to(at(3, 10, 14, 5), tick=False)
    from billing.gateways import get_gateway

    payment_apply_result(public_id=payment.public_id, source="notification:late-5-min",
                         charge=get_gateway("sandbox").lookup(invoice_id=str(payment.public_id)))
    payment.refresh_from_db()
    assert payment.paid_at == at(3, 10, 14) and payment.recorded_at is None
    row = row_of(export("2026-03-01", "2026-03-31"), payment)
    assert (row["date"], row["time"], row["value_date"], row["method"]) == (
        "2026-03-10", "14:00:00", "2026-03-10", "card")


def test_a_renewal_batch_writes_no_recorded_at(customer, plan, documents, time_machine):
    time_machine.move_to(at(3, 1, 12), tick=False)
    buy(customer, plan, documents, token="t-renew")
    sub = Subscription.objects.get(customer=customer)
    time_machine.move_to(sub.current_period_end - timedelta(hours=23), tick=False)
    with CaptureQueriesContext(connection) as queries:
        renewals.renewals_run()
    attempt = RenewalAttempt.objects.get(subscription=sub, term_number=2)
    assert attempt.payment.status == Payment.Status.SUCCEEDED and attempt.payment.recorded_at is None
    settled = [q["sql"] for q in queries.captured_queries
               if q["sql"].startswith('UPDATE "billing_payment"') and '"paid_at"' in q["sql"]]
    assert settled and not any("recorded_at" in sql for sql in settled)  # the batch sends no such column


def test_a_renewal_reconciled_after_its_month_was_exported_is_reported_when_reconciled(
        customer, plan, documents, time_machine, monkeypatch):
    """The charge went through on 30 March, our call timed out, the sweep could not reach the
    gateway until 3 April (after March was exported): reported in April, value date 30 March."""
    time_machine.move_to(at(3, 1, 12), tick=False)
    buy(customer, plan, documents, token="t-renew")
    sub = Subscription.objects.get(customer=customer)
    charge_tokens = SandboxGateway.charge_tokens

    def charged_but_timed_out(self, charges, *, threads=1):
        charge_tokens(self, charges, threads=threads)
        return [GatewayError("read timeout") for _ in charges]

    monkeypatch.setattr(SandboxGateway, "charge_tokens", charged_but_timed_out)
    charged_on = sub.current_period_end - timedelta(hours=23)
    time_machine.move_to(charged_on, tick=False)
    renewals.renewals_run()
    monkeypatch.undo()
    attempt = RenewalAttempt.objects.get(subscription=sub, term_number=2)
    assert attempt.payment.status == Payment.Status.PROCESSING
    time_machine.move_to(at(4, 2, 9), tick=False)
    march = export("2026-03-01", "2026-03-31")
    time_machine.move_to(at(4, 3, 10), tick=False)
    renewals.renewals_reconcile()
    payment = Payment.objects.get(pk=attempt.payment_id)
    assert payment.status == Payment.Status.SUCCEEDED
    assert payment.paid_at == charged_on and payment.recorded_at == at(4, 3, 10)
    assert export("2026-03-01", "2026-03-31") == march
    row = row_of(export("2026-04-01", "2026-04-30"), payment)
    assert (row["date"], row["value_date"]) == ("2026-04-03", charged_on.astimezone(ALMATY).date().isoformat())


def test_payments_recorded_before_are_given_the_time_they_were_recorded(late_invoice):
    """The migration: a payment recorded late before `recorded_at` existed gets the time of
    its `payment.succeeded` event; one recorded when paid keeps none."""
    card, invoice, _march = late_invoice
    Payment.objects.update(recorded_at=None)
    migration = importlib.import_module("billing.migrations.0012_payment_recorded_at")
    migration.backfill(apps, None)
    logged = Event.objects.get(verb="payment.succeeded", subject_id=str(invoice.payment_id)).created_at
    assert logged == at(4, 3, 10)
    assert Payment.objects.get(pk=invoice.payment_id).recorded_at == logged
    assert Payment.objects.get(pk=card.pk).recorded_at is None
    (row,) = export("2026-04-01", "2026-04-30")
    assert (row["date"], row["value_date"]) == ("2026-04-03", "2026-03-31")
