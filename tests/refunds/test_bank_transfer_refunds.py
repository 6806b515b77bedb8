"""A payment that came by bank transfer (a legal entity's invoice) has no gateway to send
money back through: an approved refund waits for accounting to pay it back, staff record
the transfer in the admin, and the record is the same as a gateway refund's."""

import re
import threading
from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from billing import documents as billing_documents
from billing.models import Payment, PaymentDocument, SandboxTransaction
from refunds import services
from refunds.models import Refund, RefundRequest
from soldee.models import Event
from subscriptions.models import Subscription
from tests.factories import VALID_BIN, ProfileFactory

from .conftest import emails

REFUNDS = "/admin/refunds/refund/"



@pytest.fixture
def paid_by_transfer(company, plan, documents, staff, django_capture_on_commit_callbacks):
    invoice = billing_documents.invoice_issue(customer=company, plan=plan)
    with django_capture_on_commit_callbacks(execute=True):
        payment = billing_documents.invoice_mark_paid(invoice_id=invoice.pk, by=staff)
    assert payment.method == Payment.Method.BANK_TRANSFER
    return payment


@pytest.fixture
def approved(company, paid_by_transfer, staff, queued, django_capture_on_commit_callbacks):
    request = services.refund_request_create(customer=company, payment_id=paid_by_transfer.pk,
                                             ground=RefundRequest.Ground.NO_ACCESS, explanation="No access")
    with django_capture_on_commit_callbacks(execute=True):
        return services.refund_request_approve(request_id=request.pk, by=staff)


def test_an_approved_refund_of_a_bank_transfer_waits_for_accounting(approved, paid_by_transfer, queued):
    assert approved.status == Refund.Status.AWAITING_TRANSFER
    assert not any(name == "refund_execute" for name, _args in queued)  # no gateway holds this money
    alerts = [args for name, args in queued if name == "staff_alert"]
    assert any("bank transfer" in subject and f"bank:{PaymentDocument.objects.get(doc_type='invoice').number}"
               in body for subject, body in alerts)
    assert "emails/refund_approved" in emails(queued)
    assert Event.objects.filter(verb="refund.awaiting_transfer", subject_id=str(approved.pk)).exists()
    # The task, the sweeper or a staff retry changes nothing and calls no gateway.
    assert services.refund_execute(refund_id=approved.pk, retry_failed=True).status == Refund.Status.AWAITING_TRANSFER
    assert not SandboxTransaction.objects.filter(kind="refund").exists()


def test_staff_record_the_transfer_once_in_the_admin(client, staff, approved, paid_by_transfer, company, queued,
                                                     django_capture_on_commit_callbacks):
    client.force_login(staff)
    data = {"action": "record_bank_transfer", "_selected_action": [approved.pk]}
    form = client.post(REFUNDS, data)
    assert form.status_code == 200 and "Bank reference of the transfer" in form.content.decode()
    refused = client.post(REFUNDS, {**data, "apply": "1", "reference": "   "}, follow=True)
    assert Refund.objects.get(pk=approved.pk).status == Refund.Status.AWAITING_TRANSFER
    assert refused.status_code == 200
    sent = timezone.localtime(approved.created_at).replace(second=0, microsecond=0)  # the statement's minute
    future = client.post(REFUNDS, {**data, "apply": "1", "reference": "PP 000123 of 29.11.2026",
                                   "transferred_at": (timezone.localtime() + timedelta(days=1)).strftime(
                                       "%Y-%m-%dT%H:%M")}, follow=True)
    assert "must be dated between" in future.content.decode()
    assert Refund.objects.get(pk=approved.pk).status == Refund.Status.AWAITING_TRANSFER
    with django_capture_on_commit_callbacks(execute=True):
        client.post(REFUNDS, {**data, "apply": "1", "reference": "PP 000123 of 29.11.2026",
                              "transferred_at": sent.strftime("%Y-%m-%dT%H:%M")}, follow=True)
    refund = Refund.objects.get(pk=approved.pk)
    assert refund.status == Refund.Status.SUCCEEDED and refund.gateway_ref == "bank-transfer:PP 000123 OF 29.11.2026"
    assert refund.succeeded_at == sent  # the bank's date, on the refund note and in the export too
    note = PaymentDocument.objects.get(doc_type=PaymentDocument.DocType.REFUND_NOTE, payment=paid_by_transfer)
    assert note.data["refunded_at"] == sent.isoformat()
    paid_by_transfer.refresh_from_db()
    assert paid_by_transfer.refunded_minor == paid_by_transfer.amount_minor
    assert PaymentDocument.objects.filter(doc_type=PaymentDocument.DocType.REFUND_NOTE,
                                          payment=paid_by_transfer).count() == 1
    assert Subscription.objects.get(customer=company).status == Subscription.Status.ENDED  # a full refund
    recorded = Event.objects.get(verb="refund.transfer_recorded")
    assert recorded.actor == staff and recorded.data["reference"] == "PP 000123 of 29.11.2026"
    assert Event.objects.get(verb="refund.succeeded", subject_id=str(refund.pk)).actor == staff
    assert "emails/refund_completed" in emails(queued)
    from django.template.loader import render_to_string

    body = render_to_string("emails/refund_completed.txt", {"refund": refund})
    # The date is when the bank sent the money, not when the customer paid from that account.
    assert re.search(r"^On [^\n,]+, \d\d:\d\d \(Almaty time\), ₸[\d,.]+ was paid back by bank transfer to the "
                     r"account you paid from\.$", body, re.M), body
    with pytest.raises(services.RefundError):
        services.refund_record_bank_transfer(refund_id=refund.pk, reference="again", by=staff)
    paid_by_transfer.refresh_from_db()
    assert paid_by_transfer.refunded_minor == paid_by_transfer.amount_minor  # once


def test_a_card_refund_cannot_be_recorded_as_a_bank_transfer(customer, buy, staff, queued,
                                                             django_capture_on_commit_callbacks):
    payment = buy(customer)
    request = services.refund_request_create(customer=customer, payment_id=payment.pk,
                                             ground=RefundRequest.Ground.NO_ACCESS, explanation="x")
    refund = services.refund_request_approve(request_id=request.pk, by=staff)
    assert refund.status == Refund.Status.PENDING
    with pytest.raises(services.RefundError):
        services.refund_record_bank_transfer(refund_id=refund.pk, reference="PP 1", by=staff)


def test_the_customer_is_told_the_money_goes_back_by_bank_transfer(approved, company, mailoutbox):
    from refunds import tasks

    tasks.customer_email.run("emails/refund_approved", "refund_request", approved.request_id)
    assert "paid back by bank transfer to the account you paid from" in mailoutbox[-1].body
    assert "card" not in mailoutbox[-1].body
    # Nothing changes until the transfer is recorded, and the e-mail does not pretend otherwise.
    assert "When the money is paid back, the subscription ends" in mailoutbox[-1].body
    assert "ends now" not in mailoutbox[-1].body
    assert Subscription.objects.get(customer=company).is_live


def test_money_waiting_to_be_paid_back_cannot_be_refunded_again(approved, company, paid_by_transfer):
    """The approved refund reserves the money until accounting records the transfer."""
    with pytest.raises(services.RefundError, match="already under way"):
        services.refund_request_create(customer=company, payment_id=paid_by_transfer.pk,
                                       ground=RefundRequest.Ground.NO_ACCESS, explanation="again")


def test_a_refused_recording_is_left_for_staff_and_not_sent_to_accounting_again(approved, staff, queued):
    Refund.objects.filter(pk=approved.pk).update(status=Refund.Status.FAILED, last_error="refused")
    queued.clear()
    assert services.refund_execute(refund_id=approved.pk, by=staff, retry_failed=True).status == Refund.Status.FAILED
    assert not any(name == "staff_alert" for name, _args in queued)  # no second "pay it back"


def test_one_bank_reference_is_recorded_for_one_refund_only(client, staff, approved, plan, documents, queued,
                                                           django_capture_on_commit_callbacks):
    second_company = ProfileFactory(kind="legal_entity", iin_bin=VALID_BIN, signatory_name="B.",
                                    signatory_basis="Устав", user__language="en").user
    invoice = billing_documents.invoice_issue(customer=second_company, plan=plan)
    with django_capture_on_commit_callbacks(execute=True):
        payment = billing_documents.invoice_mark_paid(invoice_id=invoice.pk, by=staff)
    request = services.refund_request_create(customer=second_company, payment_id=payment.pk,
                                             ground=RefundRequest.Ground.NO_ACCESS, explanation="x")
    other = services.refund_request_approve(request_id=request.pk, by=staff)
    client.force_login(staff)
    response = client.post(REFUNDS, {"action": "record_bank_transfer", "_selected_action": [approved.pk, other.pk],
                                     "apply": "1", "reference": "PP 1"}, follow=True)
    assert "Select exactly one refund" in response.content.decode()
    assert set(Refund.objects.values_list("status", flat=True)) == {Refund.Status.AWAITING_TRANSFER}


def test_the_customers_refund_history_speaks_of_a_bank_transfer_not_a_card_or_gateway(
        client, approved, company, staff, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.refund_record_bank_transfer(refund_id=approved.pk, reference="PP 7", by=staff)
    client.force_login(company)
    page = client.get(f"/refunds/requests/{approved.request_id}/").content.decode()
    assert "paid back by bank transfer" in page
    assert "payment gateway" not in page and "to your card" not in page


@pytest.mark.parametrize(("first", "again"), [("PP-123", "pp-123"), ("ПП 000123", " пп  000123 ")])
def test_a_bank_reference_pays_back_one_refund(company, paid_by_transfer, approved, staff, other_company_refund,
                                               first, again):
    """Whatever the case and spacing, in Latin or Cyrillic letters (found by the staff
    explorer: "пп 000123" passed after "ПП 000123", SQLite folding only Latin letters)."""
    services.refund_record_bank_transfer(refund_id=approved.pk, reference=first, by=staff)
    with pytest.raises(services.RefundError, match="already recorded for refund"):
        services.refund_record_bank_transfer(refund_id=other_company_refund.pk, reference=again, by=staff)
    assert Refund.objects.get(pk=other_company_refund.pk).status == Refund.Status.AWAITING_TRANSFER


@pytest.mark.django_db(transaction=True)
def test_one_bank_reference_recorded_for_two_refunds_at_once_pays_back_one(
    require_postgres, company, paid_by_transfer, approved, staff, other_company_refund
):
    """The check before recording cannot see a transfer recorded at the same moment by
    another customer's refund (each waits only on its own customer): the unique index on
    the reference refuses the second, with a clear message and nothing half-written."""
    first_recorded, release = threading.Event(), threading.Event()
    outcome: dict[str, object] = {}

    def record_first():
        try:
            with transaction.atomic():  # held open until the second has checked and is waiting
                services.refund_record_bank_transfer(refund_id=approved.pk, reference="PP-77", by=staff)
                first_recorded.set()
                release.wait(timeout=30)
        finally:
            connection.close()

    def record_second():
        try:
            services.refund_record_bank_transfer(refund_id=other_company_refund.pk, reference="pp-77", by=staff)
            outcome["second"] = "recorded"
        except services.RefundError as exc:
            outcome["second"] = str(exc)
        finally:
            connection.close()

    first = threading.Thread(target=record_first)
    first.start()
    assert first_recorded.wait(timeout=30)
    second = threading.Thread(target=record_second)
    second.start()
    try:
        for _ in range(300):  # until the second waits on a lock the first holds
            with connection.cursor() as cursor:
                cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                               "AND wait_event_type = 'Lock'")
                if cursor.fetchone()[0]:
                    break
            second.join(timeout=0.05)
        else:
            pytest.fail("the second recording never waited for the first")
    finally:
        release.set()
        first.join(timeout=30)
        second.join(timeout=30)
    assert "was recorded for another refund a moment ago" in outcome["second"]
    assert Refund.objects.get(pk=approved.pk).status == Refund.Status.SUCCEEDED
    other = Refund.objects.get(pk=other_company_refund.pk)
    assert (other.status, other.gateway_ref) == (Refund.Status.AWAITING_TRANSFER, "")
    assert not Event.objects.filter(verb="refund.transfer_recorded", subject_id=str(other.pk)).exists()


@pytest.fixture
def other_company_refund(plan, documents, staff, queued, django_capture_on_commit_callbacks):
    other = ProfileFactory(kind="legal_entity", name="ТОО Другая", iin_bin=VALID_BIN,
                           signatory_name="Иванов И.", signatory_basis="Устав", user__language="en").user
    invoice = billing_documents.invoice_issue(customer=other, plan=plan)
    with django_capture_on_commit_callbacks(execute=True):
        payment = billing_documents.invoice_mark_paid(invoice_id=invoice.pk, by=staff)
    request = services.refund_request_create(customer=other, payment_id=payment.pk,
                                             ground=RefundRequest.Ground.NO_ACCESS, explanation="No access")
    with django_capture_on_commit_callbacks(execute=True):
        return services.refund_request_approve(request_id=request.pk, by=staff)


def test_staff_approving_a_bank_transfer_refund_are_told_it_waits_for_the_transfer(
        client, staff, company, paid_by_transfer, queued, django_capture_on_commit_callbacks):
    """Found by the staff explorer: the admin said "queued" though nothing is sent."""
    request = services.refund_request_create(customer=company, payment_id=paid_by_transfer.pk,
                                             ground=RefundRequest.Ground.NO_ACCESS, explanation="No access")
    client.force_login(staff)
    with django_capture_on_commit_callbacks(execute=True):
        page = client.post("/admin/refunds/refundrequest/", {
            "action": "approve", "_selected_action": [request.pk], "apply": "1"}, follow=True).content.decode()
    assert "to be paid back by bank transfer: record the transfer when it is made" in page
    assert "queued" not in page


def test_references_recorded_before_are_upper_cased_and_a_clash_is_left_for_a_person(
        approved, other_company_refund, capsys):
    """Found by the review: rows recorded before the Python upper-casing kept their case, so
    "ПП 000123" could still be recorded again after "пп 000123"."""
    import importlib

    from django.apps import apps

    migration = importlib.import_module("refunds.migrations.0009_bank_references_upper_cased")
    Refund.objects.filter(pk=approved.pk).update(gateway_ref="bank-transfer:пп 000123")
    migration.upper_case(apps, None)
    assert Refund.objects.get(pk=approved.pk).gateway_ref == "bank-transfer:ПП 000123"
    # Two refunds recorded with one transfer, before the check: the second is left and named.
    try:
        with transaction.atomic():
            Refund.objects.filter(pk=other_company_refund.pk).update(gateway_ref="bank-transfer:пп 000123")
    except IntegrityError:  # PostgreSQL's UPPER folds Cyrillic: its index refuses the clash itself
        assert connection.vendor == "postgresql"
        return
    migration.upper_case(apps, None)
    assert Refund.objects.get(pk=other_company_refund.pk).gateway_ref == "bank-transfer:пп 000123"
    assert f"refund #{other_company_refund.pk}" in capsys.readouterr().out
