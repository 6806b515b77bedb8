"""Clause 6.4: "upon expiration, the plan is automatically renewed unless the Customer has
cancelled". The saved card is charged RENEWAL_LEAD_HOURS before the term in use ends, so a
customer may cancel after that charge and before the term it paid begins: they may have
that payment back (the term is cancelled, the term in use runs to its end); and a charge
that was out at the gateway when they cancelled buys nothing and is returned."""

import re
from datetime import timedelta

import pytest
from django.db import transaction

from billing.gateways import sandbox
from billing.models import Payment, SandboxTransaction
from refunds import services as refunds
from refunds.models import Refund, RefundRequest
from soldee.models import Event
from soldee.provider import provider_details
from subscriptions import renewals
from subscriptions.models import RenewalAttempt, Subscription, Term
from subscriptions.services import subscription_set_auto_renew

from ..billing.helpers import buy

pytestmark = pytest.mark.django_db


@pytest.fixture
def sub(customer, plan, documents):
    buy(customer, plan, documents, card=sandbox.CARD_APPROVE, token=f"t-{customer.pk}")
    return Subscription.objects.get(customer=customer)


def gateway_refunds(payment) -> int:
    return SandboxTransaction.objects.filter(kind="refund", invoice_id=str(payment.public_id)).count()


@pytest.fixture
def renewed_ahead(sub, time_machine):
    """Term 2 paid at end − 23 h; the clock then at end − 12 h (term 1 still in use)."""
    first_end = sub.current_period_end
    time_machine.move_to(first_end - timedelta(hours=23), tick=False)
    assert renewals.renewals_run() == {"succeeded": 1}
    time_machine.move_to(first_end - timedelta(hours=12), tick=False)
    sub.refresh_from_db()
    return sub, first_end, Term.objects.get(subscription=sub, number=2)


def test_cancelling_before_the_paid_term_begins_returns_its_payment_once(
    client, customer, staff, renewed_ahead, django_capture_on_commit_callbacks, enqueued,
):
    sub, first_end, term2 = renewed_ahead
    enqueued.calls.clear()
    client.force_login(customer)
    page = client.get(f"/account/subscriptions/{sub.pk}/renewal/").content.decode()
    assert 'id="paid-ahead"' in page and 'id="confirm-renewal-refund"' in page
    assert "is already paid" in page and "Turn renewal off, keep the paid term" in page
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/refunds/subscriptions/{sub.pk}/next-term/", follow=True)
    request = RefundRequest.objects.get(payment=term2.payment)
    assert response.redirect_chain[-1][0] == f"/refunds/requests/{request.pk}/"
    assert "your request to return the payment for the next term is registered" in response.content.decode()
    sub.refresh_from_db()
    assert sub.auto_renew is False and sub.next_charge_at is None
    assert request.ground == RefundRequest.Ground.NO_ACCESS and request.eligible is True
    assert "had not begun when the refund was asked" in " ".join(request.evaluation["reasons"])
    assert Event.objects.filter(verb="subscription.renewal_cancelled", subject_id=str(sub.pk)).exists()
    # One e-mail, the refund request's: not "renewal is off, access until <the term asked back>".
    assert ["emails/refund_request_received"] == [args[0] for name, args, _kw in enqueued.calls
                                                   if name.endswith("customer_email")]
    assert "subscriptions.tasks.subscription_email" not in enqueued.names()
    # A second press does not open a second request (nor turn anything else).
    client.post(f"/refunds/subscriptions/{sub.pk}/next-term/")
    assert RefundRequest.objects.filter(customer=customer).count() == 1
    # Staff approve: that term is cancelled, the term in use keeps its access to its end.
    with django_capture_on_commit_callbacks(execute=True):
        refund = refunds.refund_request_approve(request_id=request.pk, by=staff)
    refund = refunds.refund_execute(refund_id=refund.pk)
    assert refund.status == Refund.Status.SUCCEEDED and gateway_refunds(term2.payment) == 1
    sub.refresh_from_db()
    assert sub.is_live and sub.current_period_end == first_end and sub.auto_renew is False
    history = client.get("/account/").content.decode().split('id="history"')[1]
    assert "Access for the cancelled next term was withdrawn" in history
    assert "Access to the AI agent was closed" not in history  # the term in use keeps it
    renewals.subscriptions_expire(now=first_end + timedelta(minutes=1))
    sub.refresh_from_db()
    assert sub.status == Subscription.Status.ENDED


def test_keeping_the_paid_term_turns_renewal_off_after_it(client, customer, renewed_ahead):
    sub, _first_end, term2 = renewed_ahead
    client.force_login(customer)
    client.post(f"/account/subscriptions/{sub.pk}/renewal/", {"on": "0"})
    sub.refresh_from_db()
    assert sub.auto_renew is False and sub.current_period_end == term2.ends_at
    assert not RefundRequest.objects.exists()
    # Changed their mind within the term in use: the payment can still be asked back.
    client.post(f"/refunds/subscriptions/{sub.pk}/next-term/")
    assert RefundRequest.objects.get(payment=term2.payment).eligible is True


def test_no_next_term_refund_without_a_paid_term_that_has_not_begun(client, customer, sub):
    client.force_login(customer)
    page = client.get(f"/account/subscriptions/{sub.pk}/renewal/").content.decode()
    assert 'id="paid-ahead"' not in page
    response = client.post(f"/refunds/subscriptions/{sub.pk}/next-term/", follow=True)
    assert "no paid term that has not begun" in response.content.decode()
    sub.refresh_from_db()
    assert sub.auto_renew is True and not RefundRequest.objects.exists()


def test_another_customers_subscription_is_a_404(client, other_customer, sub):
    client.force_login(other_customer)
    assert client.post(f"/refunds/subscriptions/{sub.pk}/next-term/").status_code == 404
    assert Subscription.objects.get(pk=sub.pk).auto_renew is True


def test_a_charge_out_at_the_gateway_when_the_customer_cancelled_buys_nothing_and_is_returned(
    customer, sub, time_machine, enqueued, monkeypatch, django_capture_on_commit_callbacks,
):
    first_end = sub.current_period_end
    time_machine.move_to(first_end - timedelta(hours=23), tick=False)
    ids = renewals.renewals_claim()
    charge = renewals._gateway_charges

    def cancelled_during_the_call(attempts):
        answers = charge(attempts)  # the gateway approves ...
        with transaction.atomic():  # ... while the customer turns renewal off
            subscription_set_auto_renew(subscription_id=sub.pk, on=False, by=customer)
        return answers

    monkeypatch.setattr(renewals, "_gateway_charges", cancelled_during_the_call)
    enqueued.calls.clear()
    with django_capture_on_commit_callbacks(execute=True):
        renewals.renewals_charge(ids)
    payment = RenewalAttempt.objects.get(pk=ids[0]).payment
    payment.refresh_from_db()
    assert payment.status == Payment.Status.SUCCEEDED
    assert not Term.objects.filter(payment=payment).exists()  # no new term after a confirmed cancellation
    sub.refresh_from_db()
    assert sub.is_live and sub.current_period_end == first_end and sub.auto_renew is False
    event = Event.objects.get(verb="payment.unapplied_renewal", subject_id=str(payment.pk))
    assert event.data["reason"] == "renewal turned off"
    with django_capture_on_commit_callbacks(execute=True):
        assert enqueued.run("refunds.tasks.refund_request_for_unapplied") == 1
    request = RefundRequest.objects.get(payment=payment)
    assert request.ground == RefundRequest.Ground.NO_ACCESS and request.eligible is True


def test_the_history_says_a_term_paid_ahead_begins_later(client, customer, renewed_ahead):
    client.force_login(customer)
    page = client.get("/account/").content.decode()
    assert "The next paid term was paid; it begins when the current one ends" in page
    assert page.count("A new paid term started") == 1  # term 1's, at its purchase


def test_staff_deciding_after_the_term_began_still_see_it_was_asked_back_in_time(
    client, customer, renewed_ahead, time_machine,
):
    from refunds.services import refund_request_reevaluate
    from subscriptions.services import access_provision

    sub, first_end, term2 = renewed_ahead
    access_provision(grant_id=term2.access_grant.pk)  # the platform was told at the charge, as in production
    client.force_login(customer)
    client.post(f"/refunds/subscriptions/{sub.pk}/next-term/")
    request = RefundRequest.objects.get(payment=term2.payment)
    time_machine.move_to(first_end + timedelta(days=2), tick=False)  # staff look two days into the term
    request = refund_request_reevaluate(request_id=request.pk)
    assert request.eligible is True


def test_turning_renewal_back_on_withdraws_the_request_for_the_paid_term_back(
        client, customer, staff, renewed_ahead, django_capture_on_commit_callbacks):
    """Off with "ask for the payment back", then back on: the customer keeps the paid-ahead
    term, so the request is withdrawn; staff can no longer approve it and cancel the term.
    (Found by the customer explorer.)"""
    sub, _first_end, term2 = renewed_ahead
    client.force_login(customer)
    client.post(f"/refunds/subscriptions/{sub.pk}/next-term/")
    request = RefundRequest.objects.get(payment=term2.payment)
    page = client.get(f"/account/subscriptions/{sub.pk}/renewal/?on=1").content.decode()
    assert 'id="request-withdrawn"' in page and f"request #{request.pk}" in page  # said before it happens
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/account/subscriptions/{sub.pk}/renewal/", {"on": "1"})
    sub.refresh_from_db()
    request.refresh_from_db()
    assert sub.auto_renew is True
    assert request.status == RefundRequest.Status.WITHDRAWN and request.decided_by == customer
    assert "turned back on" in request.decision_reason
    withdrawn = Event.objects.get(verb="refund_request.withdrawn", subject_id=str(request.pk))
    assert withdrawn.actor == customer
    with pytest.raises(refunds.RefundError, match="already Withdrawn"):
        refunds.refund_request_approve(request_id=request.pk, by=staff)
    assert Term.objects.filter(subscription=sub, number=2).exists() and not Refund.objects.exists()
    page = client.get(f"/refunds/requests/{request.pk}/").content.decode()
    assert "Withdrawn by the customer" in page and 'id="withdraw-request"' not in page


def test_a_customer_withdraws_an_open_request_and_may_ask_again(client, customer, other_customer, sub):
    payment = sub.terms.get(number=1).payment
    request = refunds.refund_request_create(customer=customer, payment_id=payment.pk,
                                            ground=RefundRequest.Ground.LATE, explanation="Wrong ground")
    client.force_login(other_customer)
    assert client.post(f"/refunds/requests/{request.pk}/withdraw/").status_code == 404
    client.force_login(customer)
    page = client.get(f"/refunds/requests/{request.pk}/").content.decode()
    assert 'id="withdraw-request"' in page
    assert client.get(f"/refunds/requests/{request.pk}/withdraw/").status_code == 405  # a POST only
    done = client.post(f"/refunds/requests/{request.pk}/withdraw/", follow=True).content.decode()
    assert "Your refund request is withdrawn" in done and "Withdrawn by the customer" in done
    assert "The refund request was withdrawn" in done  # the request's history
    again = client.post(f"/refunds/requests/{request.pk}/withdraw/", follow=True).content.decode()
    assert "already Withdrawn" in again
    # The payment is offered again, and a new request on the right ground can be made.
    assert str(payment.public_id) in client.get("/refunds/").content.decode()
    second = refunds.refund_request_create(customer=customer, payment_id=payment.pk,
                                           ground=RefundRequest.Ground.NO_ACCESS, explanation="Right ground")
    assert second.status == RefundRequest.Status.OPEN


def test_renewal_back_on_withdraws_only_the_customers_own_request_and_not_an_approved_refund(
        client, customer, other_customer, plan, documents, staff, renewed_ahead, settings):
    """Staff turning renewal on leave the customer's request to staff; a refund of the
    paid-ahead term already approved refuses renewal on (it cancels that term); one reason
    is never recorded for several customers. (Found by the review.)"""
    sub, _first_end, term2 = renewed_ahead
    client.force_login(customer)
    client.post(f"/refunds/subscriptions/{sub.pk}/next-term/")
    request = RefundRequest.objects.get(payment=term2.payment)
    subscription_set_auto_renew(subscription_id=sub.pk, on=True, by=staff, reason="Phone call")
    request.refresh_from_db()
    assert request.status == RefundRequest.Status.OPEN  # staff acted: the request stays for staff
    subscription_set_auto_renew(subscription_id=sub.pk, on=False, by=customer)
    refunds.refund_request_approve(request_id=request.pk, by=staff)
    from subscriptions.services import CheckoutRefused

    with pytest.raises(CheckoutRefused, match="being returned to you"):
        subscription_set_auto_renew(subscription_id=sub.pk, on=True, by=customer)
    assert Subscription.objects.get(pk=sub.pk).auto_renew is False
    from django.test import Client

    settings.SOLDEE_STAFF_MFA_REQUIRED = False
    staff_admin = Client()
    staff_admin.force_login(staff)
    buy(other_customer, plan, documents, token="tok-other")
    other = Subscription.objects.get(customer=other_customer)
    both = staff_admin.post("/admin/subscriptions/subscription/", {
        "action": "renewal_on", "_selected_action": [sub.pk, other.pk]}, follow=True)
    assert "Select one subscription" in both.content.decode()


def test_staff_turning_renewal_off_show_the_customer_how_to_have_the_paid_term_back(
        client, customer, staff, renewed_ahead, enqueued, mailoutbox, django_capture_on_commit_callbacks):
    """Staff turn renewal off at the customer's request while the next term is paid and has
    not begun: the customer's account and the "renewal is off" e-mail show the way to that
    money (the customer's own request, ground "access not granted"), as the renewal-off page
    does for a customer who turns it off themselves. (Left alone by an earlier session.)"""
    from subscriptions.tasks import subscription_email

    sub, first_end, term2 = renewed_ahead
    refund_form = f"/refunds/payments/{term2.payment.public_id}/request/?ground=no_access"
    client.force_login(customer)
    assert 'id="paid-ahead-refund"' not in client.get("/account/").content.decode()  # renewal on: the off page offers it
    enqueued.calls.clear()
    with django_capture_on_commit_callbacks(execute=True):
        subscription_set_auto_renew(subscription_id=sub.pk, on=False, by=staff, reason="Asked by phone")
    assert ("subscriptions.tasks.subscription_email", [sub.pk, "emails/renewal_cancelled"]) in [
        (name, list(args)) for name, args, _kw in enqueued.calls]
    subscription_email(sub.pk, "emails/renewal_cancelled")
    body = mailoutbox[-1].body
    assert "is already paid" in body and term2.payment.amount_display in body
    assert refund_form in body
    provider = provider_details("en")
    assert body.rstrip().split("\n\n")[-1] == f"{provider.name}, BIN {provider.bin}"  # after the link, signed

    page = client.get("/account/").content.decode()
    note = page.split('id="paid-ahead-refund"')[1].split("</p>")[0]
    assert "is already paid" in note and refund_form in note
    # The form the link opens has the ground pre-selected; the offer's three grounds all stay.
    form = client.get(refund_form).content.decode()
    assert re.search(r'name="ground" value="no_access"[^>]*checked', form)
    assert set(re.findall(r'name="ground" value="([^"]+)"', form)) == {"no_access", "critical_error", "late"}
    client.post(refund_form.split("?")[0], {"ground": "no_access", "explanation": "Renewal was turned off"})
    request = RefundRequest.objects.get(payment=term2.payment)
    assert request.ground == RefundRequest.Ground.NO_ACCESS and request.eligible is True
    # Asked: the account now points to the request instead of offering a second one.
    note = client.get("/account/").content.decode().split('id="paid-ahead-refund"')[1].split("</p>")[0]
    assert f"/refunds/requests/{request.pk}/" in note and refund_form.split("?")[0] not in note
    assert "back: under review." in note


def test_the_refund_form_for_the_paid_ahead_term_says_what_that_payment_is_for(
        client, customer, renewed_ahead, settings):
    """The account's and the e-mail's link opens the refund form: it says the payment is for
    the next term, not begun, why "access not granted" is the ground, and when access then
    ends, and offers the explanation the customer would otherwise have to find words for.
    Another payment's form (the term in use) says none of it."""
    sub, first_end, term2 = renewed_ahead
    subscription_set_auto_renew(subscription_id=sub.pk, on=False, by=customer)
    client.force_login(customer)
    client.cookies["django_language"] = "ru"
    form = client.get(f"/refunds/payments/{term2.payment.public_id}/request/?ground=no_access").content.decode()
    note = form.split('id="paid-ahead-term"')[1].split("</p>")[0]
    assert "Этот платёж — за ваш следующий срок" in note and "«Доступ к сервису не был предоставлен»" in note
    explanation = form.split('name="explanation"')[1].split("</textarea>")[0]
    assert "Автопродление отключено, а этот оплаченный срок ещё не начался" in explanation
    term1 = Term.objects.get(subscription=sub, number=1)
    other = client.get(f"/refunds/payments/{term1.payment.public_id}/request/").content.decode()
    assert 'id="paid-ahead-term"' not in other and "Автопродление отключено" not in other
    subscription_set_auto_renew(subscription_id=sub.pk, on=True, by=customer)  # renewal on: the off page offers it
    form = client.get(f"/refunds/payments/{term2.payment.public_id}/request/").content.decode()
    assert 'id="paid-ahead-term"' not in form


def test_no_paid_term_ahead_no_note_and_no_refund_in_the_renewal_off_e_mail(client, customer, sub, mailoutbox):
    from subscriptions.tasks import subscription_email

    subscription_set_auto_renew(subscription_id=sub.pk, on=False, by=customer)
    subscription_email(sub.pk, "emails/renewal_cancelled")
    assert "Automatic renewal of" in mailoutbox[-1].body and "/refunds/" not in mailoutbox[-1].body
    # Signed like the receipt and the other e-mails about the agreement (found by a newcomer).
    provider = provider_details("en")
    assert mailoutbox[-1].body.rstrip().split("\n\n")[-1] == f"{provider.name}, BIN {provider.bin}"
    client.force_login(customer)
    assert 'id="paid-ahead-refund"' not in client.get("/account/").content.decode()


def test_a_request_withdrawn_by_turning_renewal_back_on_is_confirmed_by_e_mail(
        client, customer, renewed_ahead, enqueued, mailoutbox, django_capture_on_commit_callbacks):
    from refunds.tasks import customer_email

    sub, _first_end, term2 = renewed_ahead
    client.force_login(customer)
    client.post(f"/refunds/subscriptions/{sub.pk}/next-term/")
    request = RefundRequest.objects.get(payment=term2.payment)
    enqueued.calls.clear()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/account/subscriptions/{sub.pk}/renewal/", {"on": "1"})
    sent = [list(args) for name, args, _kw in enqueued.calls if name == "refunds.tasks.customer_email"]
    assert sent == [["emails/refund_request_withdrawn", "refund_request", request.pk]]
    customer_email.run("emails/refund_request_withdrawn", "refund_request", request.pk)
    mail = mailoutbox[-1]
    assert mail.subject == f"Soldee: refund request #{request.pk} withdrawn"
    assert "Automatic renewal was turned back on: the paid term is kept." in mail.body


def test_staff_refused_renewal_on_after_the_next_term_was_refunded_read_what_happened_and_what_is_left(
        client, customer, staff, renewed_ahead, django_capture_on_commit_callbacks, settings):
    """Found by staff: the refusal spoke to the customer ("You can buy a plan again"). The
    customer, in their account, keeps their own wording."""
    from django.test import Client
    from django.utils import formats, timezone

    from subscriptions.services import CheckoutRefused

    sub, first_end, term2 = renewed_ahead
    ends = formats.date_format(timezone.localtime(first_end), "DATETIME_FORMAT")
    client.force_login(customer)
    client.post(f"/refunds/subscriptions/{sub.pk}/next-term/")
    refund = refunds.refund_request_approve(request_id=RefundRequest.objects.get(payment=term2.payment).pk, by=staff)
    settings.SOLDEE_STAFF_MFA_REQUIRED = False
    staff_admin = Client()
    staff_admin.force_login(staff)

    def staff_turn_on() -> str:
        response = staff_admin.post("/admin/subscriptions/subscription/", {
            "action": "renewal_on", "_selected_action": [sub.pk], "confirmed": "yes",
            "reason": "Phone call, 30.11.2026"}, follow=True)
        [message] = [str(m) for m in response.context["messages"]]
        return message

    # The refund is approved, the money on its way back.
    message = staff_turn_on()
    assert (f"Renewal cannot be turned back on: a refund of the payment for the next term ({term2.payment.public_id}) "
            f"is approved and under way, which cancels that term, so the subscription ends with the term in use on "
            f"{ends}.") in message
    assert "they buy a plan again in their account once it has ended" in message and "to you" not in message
    with pytest.raises(CheckoutRefused, match="being returned to you"):
        subscription_set_auto_renew(subscription_id=sub.pk, on=True, by=customer)
    # The refund is done: the term is cancelled.
    assert refunds.refund_execute(refund_id=refund.pk).status == Refund.Status.SUCCEEDED
    message = staff_turn_on()
    assert (f"Renewal cannot be turned back on: the payment for the next term ({term2.payment.public_id}) was "
            f"refunded, which cancelled that term, so the subscription ends with the term in use on {ends}") in message
    assert "You can buy" not in message and "Nothing was changed." in message
    # ... and the confirmation page says so before staff type a reason (found by the admin-lists helper)
    asked = staff_admin.post("/admin/subscriptions/subscription/", {
        "action": "renewal_on", "_selected_action": [sub.pk]}).content.decode()
    assert "Will be refused: the next term" in asked and "payment was refunded, so the subscription ends" in asked
    with pytest.raises(CheckoutRefused, match=f"was refunded, so it ends on {ends}. You can buy a plan again"):
        subscription_set_auto_renew(subscription_id=sub.pk, on=True, by=customer)
    assert Subscription.objects.get(pk=sub.pk).auto_renew is False


def test_a_partial_refund_of_the_paid_ahead_term_under_way_does_not_refuse_renewal_on(
        client, customer, staff, renewed_ahead):
    """Only a refund that returns all of the next term's payment cancels that term; one of
    part of it (staff's decision) leaves the term paid, so renewal may be turned back on."""
    sub, _first_end, term2 = renewed_ahead
    client.force_login(customer)
    client.post(f"/refunds/subscriptions/{sub.pk}/next-term/")
    request = RefundRequest.objects.get(payment=term2.payment)
    refund = refunds.refund_request_approve(request_id=request.pk, by=staff,
                                            amount_minor=term2.payment.amount_minor // 2)
    assert refund.status == Refund.Status.PENDING and not refund.is_full
    subscription_set_auto_renew(subscription_id=sub.pk, on=True, by=customer)
    assert Subscription.objects.get(pk=sub.pk).auto_renew is True
    assert Term.objects.filter(pk=term2.pk).exists()


@pytest.mark.parametrize("language, expected", [
    ("en", "to have the payment for the next term back: under review."),
    ("ru", "на возврат платежа за следующий срок: на рассмотрении."),
    ("kk", "төлемін қайтару туралы № {id} өтініміңіз: қаралуда."),
])
def test_the_account_page_writes_the_status_of_the_request_for_the_paid_term_back_in_lower_case(
        client, customer, renewed_ahead, language, expected):
    """The status is inserted after a colon, mid-sentence: "Ваша заявка № 1 …: На рассмотрении."
    read with a capital in the middle of the sentence (the label starts with one)."""
    sub, first_end, term2 = renewed_ahead
    subscription_set_auto_renew(subscription_id=sub.pk, on=False, by=customer)
    client.force_login(customer)
    client.post(f"/refunds/payments/{term2.payment.public_id}/request/",
                {"ground": "no_access", "explanation": "Renewal was turned off"})
    request = RefundRequest.objects.get(payment=term2.payment)
    client.cookies["django_language"] = language
    page = client.get("/account/").content.decode()
    note = page.split('id="paid-ahead-refund"')[1].split("<a ")[0]
    assert expected.format(id=request.pk) in note, note
