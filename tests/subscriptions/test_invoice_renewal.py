"""A legal entity that pays by invoice has no saved card: it renews by paying an invoice
for the plan it is on, which starts the next term through the renewal path (not a
duplicate purchase to refund), and the reminders and the account say so."""

from datetime import timedelta

import pytest
from django.utils import formats, timezone

from billing import documents as billing_documents
from billing.models import Payment
from soldee.models import Event
from subscriptions import renewals
from subscriptions.models import RenewalAttempt, Subscription, Term
from tests.factories import VALID_BIN, ProfileFactory

pytestmark = pytest.mark.django_db




def pay_invoice(company, plan, staff, capture) -> Payment:
    invoice = billing_documents.invoice_issue(customer=company, plan=plan)
    with capture(execute=True):
        return billing_documents.invoice_mark_paid(invoice_id=invoice.pk, by=staff)


def test_an_invoice_paid_during_the_term_pays_the_next_term(company, plan, documents, staff, enqueued,
                                                            django_capture_on_commit_callbacks, time_machine):
    first = pay_invoice(company, plan, staff, django_capture_on_commit_callbacks)
    sub = Subscription.objects.get(customer=company)
    term1 = Term.objects.get(payment=first)
    time_machine.move_to(term1.ends_at - timedelta(days=2), tick=False)
    enqueued.calls.clear()
    second = pay_invoice(company, plan, staff, django_capture_on_commit_callbacks)
    term2 = Term.objects.get(payment=second)
    assert (term2.number, term2.starts_at, term2.ends_at - term2.starts_at) == (2, term1.ends_at, timedelta(days=30))
    sub.refresh_from_db()
    assert sub.status == Subscription.Status.ACTIVE and sub.current_period_end == term2.ends_at
    assert RenewalAttempt.objects.get(payment=second).kind == RenewalAttempt.Kind.INVOICE
    assert Subscription.objects.filter(customer=company).count() == 1
    assert not Event.objects.filter(verb="payment.duplicate_purchase").exists()
    assert "refunds.tasks.refund_request_for_unapplied" not in enqueued.names()
    assert Event.objects.filter(verb="subscription.renewed", subject_id=str(sub.pk)).count() == 1


def test_paid_after_a_failed_automatic_charge_the_past_due_subscription_renews_from_the_payment(
        client, company, plan, documents, staff, django_capture_on_commit_callbacks, time_machine, mailoutbox):
    from subscriptions import tasks

    pay_invoice(company, plan, staff, django_capture_on_commit_callbacks)
    sub = Subscription.objects.get(customer=company)
    time_machine.move_to(sub.current_period_end - timedelta(hours=1), tick=False)
    assert renewals.renewals_run() == {"declined": 1}  # no saved card to charge
    sub.refresh_from_db()
    assert sub.status == Subscription.Status.PAST_DUE
    tasks.subscription_email.run(sub.pk, "emails/renewal_failed")
    body = mailoutbox[-1].body
    assert "no saved card" in body and "/account/#invoices" in body and "another card" not in body
    assert "We will try again" not in body  # a retry without a card is declined for certain
    ends = formats.date_format(timezone.localtime(sub.current_period_end), "DATETIME_FORMAT")
    assert f"access to the AI agent stops on {ends}" in body  # what a failed renewal means for access
    time_machine.move_to(sub.current_period_end + timedelta(hours=2), tick=False)
    tasks.subscription_email.run(sub.pk, "emails/renewal_failed")
    assert f"Access to the AI agent has been paused since {ends}" in mailoutbox[-1].body
    time_machine.move_to(sub.current_period_end - timedelta(hours=1), tick=False)
    lapses = formats.date_format(timezone.localtime(sub.lapses_at), "DATETIME_FORMAT")
    assert sub.lapses_at == sub.first_failed_at + timedelta(days=5) and f"Pay before {lapses}" in body
    client.force_login(company)
    banner = client.get("/account/").content.decode().split('id="past-due"')[1].split("</p>")[0]
    assert "no saved card" in banner and f"Pay before {lapses}" in banner and "#invoices" in banner
    assert "saved card for the renewal" not in banner  # not "we could not charge your saved card"
    assert Payment.objects.filter(customer=company, status="failed", failure_code="no_saved_card").exists()
    section = client.get("/account/").content.decode().split('id="payments"')[1].split("</section>")[0]
    assert "Paid" in section and "Declined" not in section  # no card was asked: no declined payment listed
    history = client.get("/account/").content.decode().split('id="history"')[1]
    assert "the next term is due; with no saved card" in history
    assert "charging your saved card" not in history and "A payment was declined" not in history
    time_machine.move_to(sub.current_period_end + timedelta(hours=5), tick=False)
    late = pay_invoice(company, plan, staff, django_capture_on_commit_callbacks)
    term = Term.objects.get(payment=late)
    assert term.number == 2 and term.starts_at == late.paid_at  # after the end: from the payment
    sub.refresh_from_db()
    assert sub.status == Subscription.Status.ACTIVE and sub.failed_attempts == 0


def test_the_reminder_and_the_account_tell_an_invoice_payer_how_to_pay(
        client, company, plan, documents, staff, django_capture_on_commit_callbacks, mailoutbox):
    from plans.models import Plan
    from subscriptions import tasks

    Plan.objects.create(code="other", name="Other", price_minor=9_900_000, is_active=True)
    pay_invoice(company, plan, staff, django_capture_on_commit_callbacks)
    sub = Subscription.objects.get(customer=company)
    tasks.subscription_email.run(sub.pk, "emails/renewal_reminder")
    body = mailoutbox[-1].body
    assert "You have no saved card" in body and "/account/#invoices" in body
    assert "to your saved card" not in body and "Non-residents" not in body
    client.force_login(company)
    page = client.get("/account/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'id="no-saved-card"' in page and "the saved card is charged" not in page
    assert f'<option value="{plan.code}">' in page and '<option value="other">' not in page  # the plan it is on
    assert timezone.now() < sub.current_period_end


def test_an_invoice_for_a_term_already_paid_is_returned_not_stacked(company, plan, documents, staff, enqueued,
                                                                   django_capture_on_commit_callbacks, time_machine):
    first = pay_invoice(company, plan, staff, django_capture_on_commit_callbacks)
    term1 = Term.objects.get(payment=first)
    time_machine.move_to(term1.ends_at - timedelta(days=2), tick=False)
    # Two invoices for the next term (a second one asked for at another price, the plan's
    # price changed meanwhile): one pays term 2 ahead, the other is stale.
    stale = billing_documents.invoice_issue(customer=company, plan=plan)
    plan.price_minor -= 100_00
    plan.save()
    pay_invoice(company, plan, staff, django_capture_on_commit_callbacks)  # term 2, paid ahead
    # No invoice is offered or issued for a term already paid; staff are warned of the stale one.
    assert billing_documents.invoice_plans_for(company) == []
    with pytest.raises(billing_documents.InvoiceRefused, match="next term is already paid"):
        billing_documents.invoice_issue(customer=company, plan=plan)
    assert "next term is paid already" in billing_documents.invoice_summary(stale)
    enqueued.calls.clear()
    with django_capture_on_commit_callbacks(execute=True):
        third = billing_documents.invoice_mark_paid(invoice_id=stale.pk, by=staff)  # marked paid all the same
    assert not Term.objects.filter(payment=third).exists()
    assert Term.objects.filter(subscription__customer=company).count() == 2
    assert Event.objects.filter(verb="payment.unapplied_renewal", subject_id=str(third.pk)).exists()
    assert "refunds.tasks.refund_request_for_unapplied" in enqueued.names()


def test_a_plan_taken_off_sale_can_still_be_renewed_by_invoice(client, company, plan, documents, staff,
                                                              django_capture_on_commit_callbacks):
    from billing.documents import InvoiceRefused

    pay_invoice(company, plan, staff, django_capture_on_commit_callbacks)
    plan.is_active = False
    plan.save()
    client.force_login(company)
    page = client.get("/account/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert f'<option value="{plan.code}">' in page
    response = client.post("/billing/invoices/new/", {"plan": plan.code})
    assert response.status_code == 302 and "/billing/documents/" in response["Location"]  # the PDF
    other = ProfileFactory(kind="legal_entity", iin_bin=VALID_BIN, signatory_name="B.", signatory_basis="Устав").user
    with pytest.raises(InvoiceRefused):  # a new customer cannot buy it
        billing_documents.invoice_issue(customer=other, plan=plan)


def test_a_past_due_subscription_with_renewal_turned_off_ends_with_its_paid_term(
        company, plan, documents, staff, django_capture_on_commit_callbacks, time_machine):
    from subscriptions.services import subscription_set_auto_renew

    pay_invoice(company, plan, staff, django_capture_on_commit_callbacks)
    sub = Subscription.objects.get(customer=company)
    time_machine.move_to(sub.current_period_end - timedelta(hours=1), tick=False)
    renewals.renewals_run()  # no saved card: past due
    subscription_set_auto_renew(subscription_id=sub.pk, on=False, by=company)
    sub.refresh_from_db()
    assert sub.lapses_at == sub.current_period_end  # not the last retry: there are no more
    time_machine.move_to(sub.current_period_end + timedelta(seconds=1), tick=False)
    assert renewals.subscriptions_expire() == 1


def test_an_invoice_for_the_next_term_costs_what_the_reminder_said(company, plan, documents, staff,
                                                                    django_capture_on_commit_callbacks, time_machine):
    pay_invoice(company, plan, staff, django_capture_on_commit_callbacks)
    sub = Subscription.objects.get(customer=company)
    old = plan.price_minor
    time_machine.move_to(sub.next_charge_at - timedelta(days=2), tick=False)
    assert renewals.reminders_due() == [(sub.pk, sub.current_period_end)]
    plan.price_minor = old + 1_000_000
    plan.save()
    invoice = billing_documents.invoice_issue(customer=company, plan=plan)
    assert invoice.amount_minor == old
    # Another plan while subscribed: its transfer would buy nothing, so no invoice is issued
    # (found by the reviews: a company paid two invoices and one bought nothing).
    other = type(plan).objects.create(code="other", name="Other", price_minor=old + 1_000_000)
    with pytest.raises(billing_documents.InvoiceRefused, match="an invoice is issued for its next term"):
        billing_documents.invoice_issue(customer=company, plan=other)
    assert billing_documents.invoice_plans_for(company) == [plan]


def test_an_invoice_payer_who_ends_a_past_due_subscription_is_told_the_term_was_not_paid(
        company, plan, documents, staff, django_capture_on_commit_callbacks, time_machine, mailoutbox):
    from subscriptions import tasks
    from subscriptions.services import subscription_set_auto_renew

    pay_invoice(company, plan, staff, django_capture_on_commit_callbacks)
    sub = Subscription.objects.get(customer=company)
    time_machine.move_to(sub.current_period_end - timedelta(hours=1), tick=False)
    renewals.renewals_run()  # no saved card: declined, past due
    time_machine.move_to(sub.current_period_end + timedelta(hours=2), tick=False)
    subscription_set_auto_renew(subscription_id=sub.pk, on=False, by=company)
    tasks.subscription_email.run(sub.pk, "emails/subscription_ended")
    body = mailoutbox[-1].body
    assert "the next term was not paid" in body and "did not go through" not in body
