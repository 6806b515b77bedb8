"""Withdrawing consent to personal-data processing is recorded (withdrawn_at + an event);
the account can then not be used for new purchases until consent is given again."""

from datetime import timedelta

import pytest
from django.test import RequestFactory
from django.utils import timezone

from accounts import personal_data
from accounts.models import PersonalDataConsent
from accounts.services import consent_record
from billing.models import Payment
from soldee.models import Event


@pytest.fixture
def consented(customer, documents):
    consent_record(user=customer, request=RequestFactory().post("/accounts/signup/", REMOTE_ADDR="10.9.8.7"))
    return customer


def test_withdrawal_is_recorded_with_an_event(client, consented):
    client.force_login(consented)
    response = client.post("/profile/privacy/consent/", {"action": "withdraw"})
    assert response.status_code == 302
    consent = PersonalDataConsent.objects.get(user=consented)
    assert consent.withdrawn_at is not None
    event = Event.objects.get(verb="consent.withdrawn")
    assert event.customer == consented and event.subject_id == str(consent.pk)
    assert personal_data.consent_withdrawn(consented)
    assert 'id="consent-give"' in client.get("/profile/privacy/").content.decode()


def test_giving_consent_again_lifts_the_restriction(client, consented):
    personal_data.consent_withdraw(user=consented)
    client.force_login(consented)
    client.post("/profile/privacy/consent/", {"action": "give"})
    assert not personal_data.consent_withdrawn(consented)
    assert PersonalDataConsent.objects.filter(user=consented).count() == 2


def test_an_account_without_any_consent_row_is_not_treated_as_withdrawn(customer):
    assert not personal_data.consent_withdrawn(customer)


def test_withdrawing_twice_records_once(consented):
    assert personal_data.consent_withdraw(user=consented) == 1
    assert personal_data.consent_withdraw(user=consented) == 0
    assert Event.objects.filter(verb="consent.withdrawn").count() == 1


def test_checkout_is_refused_after_withdrawal(consented, plan, documents):
    from subscriptions.services import CheckoutRefused, checkout_start

    personal_data.consent_withdraw(user=consented)
    with pytest.raises(CheckoutRefused):
        checkout_start(customer=consented, plan=plan, document_ids=[d.pk for d in documents.values()],
                       token="after-withdrawal", client_ip=None, user_agent="")


# --- Renewals after withdrawal ---------------------------------------------------------
# A renewal is a new term bought with a new payment (clauses 6.3, 6.4): as checkout, it
# needs the processing the customer refused. Withdrawing consent turns automatic renewal off
# through the customer's own renewal-off service (event, e-mail); the paid term runs on.

def test_withdrawing_consent_turns_renewal_off_and_the_page_says_so_beforehand(
        client, consented, buy, time_machine, enqueued, django_capture_on_commit_callbacks):
    from subscriptions import renewals
    from subscriptions.models import Subscription

    buy(consented)
    sub = Subscription.objects.get(customer=consented)
    end = sub.current_period_end
    client.force_login(consented)
    page = client.get("/profile/privacy/").content.decode()
    assert 'id="consent-renewal-off"' in page and "would then not renew" in page
    enqueued.calls.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/profile/privacy/consent/", {"action": "withdraw"}, follow=True)
    assert "Automatic renewal of your subscription is off" in response.content.decode()
    sub.refresh_from_db()
    assert sub.status == Subscription.Status.ACTIVE and sub.current_period_end == end  # the paid term runs on
    assert not sub.auto_renew and sub.next_charge_at is None
    off = Event.objects.get(verb="subscription.renewal_cancelled", subject_id=str(sub.pk))
    assert off.actor == consented and off.actor_kind == Event.ActorKind.CUSTOMER
    assert Event.objects.filter(verb="consent.withdrawn", customer=consented).exists()
    assert ("subscriptions.tasks.subscription_email", [sub.pk, "emails/renewal_cancelled"], {}) in enqueued.calls
    assert 'id="consent-renewal-off"' not in client.get("/profile/privacy/").content.decode()

    time_machine.move_to(end - timedelta(hours=1), tick=False)
    assert renewals.renewals_run() == {}  # nothing charged
    time_machine.move_to(end + timedelta(minutes=1), tick=False)
    assert renewals.subscriptions_expire() == 1
    sub.refresh_from_db()
    assert sub.status == Subscription.Status.ENDED and sub.end_reason == Subscription.EndReason.CANCELLED


def test_renewal_stays_off_until_consent_is_given_again(client, consented, buy):
    from subscriptions.models import Subscription
    from subscriptions.services import CheckoutRefused, subscription_set_auto_renew

    buy(consented)
    sub = Subscription.objects.get(customer=consented)
    personal_data.consent_withdraw(user=consented)
    with pytest.raises(CheckoutRefused, match="Give it again on the “Your personal data” page"):
        subscription_set_auto_renew(subscription_id=sub.pk, on=True, by=consented)
    sub.refresh_from_db()
    assert not sub.auto_renew
    client.force_login(consented)
    client.post("/profile/privacy/consent/", {"action": "give"})
    assert subscription_set_auto_renew(subscription_id=sub.pk, on=True, by=consented).auto_renew


def test_withdrawal_is_refused_with_nothing_changed_while_the_next_term_is_being_charged(
        client, consented, buy, time_machine):
    """The term is over and a charge for the next one is out at the gateway: ending the
    subscription now would leave that payment buying nothing (the renewal-off service's
    own refusal). The customer is told to try again; consent is not withdrawn meanwhile."""
    from subscriptions import renewals
    from subscriptions.models import Subscription

    buy(consented)
    sub = Subscription.objects.get(customer=consented)
    time_machine.move_to(sub.current_period_end + timedelta(minutes=5), tick=False)
    assert renewals.renewals_claim()  # claimed, not yet answered
    client.force_login(consented)
    response = client.post("/profile/privacy/consent/", {"action": "withdraw"}, follow=True)
    assert "being processed right now" in response.content.decode()
    assert not personal_data.consent_withdrawn(consented)
    sub.refresh_from_db()
    assert sub.auto_renew and sub.is_live


# --- The renewal claim checks consent too (defence in depth) ----------------------------
# Renewal left on with consent withdrawn (withdrawn before withdrawal turned renewal off, or
# any other path): the claim does not charge it and turns renewal off through the
# customer's renewal-off service, in a transaction of its own after the claim's.

def _withdraw_leaving_renewal_on(customer):
    """What a withdrawal made before consent_withdraw turned renewal off left behind."""
    PersonalDataConsent.objects.filter(user=customer, withdrawn_at__isnull=True).update(withdrawn_at=timezone.now())
    assert personal_data.consent_withdrawn(customer)


def test_the_renewal_claim_does_not_charge_a_customer_who_withdrew_consent_and_turns_renewal_off(
        consented, other_customer, buy, time_machine, enqueued, django_capture_on_commit_callbacks, mailoutbox):
    from subscriptions import renewals
    from subscriptions.models import RenewalAttempt, Subscription

    buy(consented)
    buy(other_customer, token="pd-2")  # no consent rows at all: charged as before
    sub = Subscription.objects.get(customer=consented)
    other = Subscription.objects.get(customer=other_customer)
    _withdraw_leaving_renewal_on(consented)
    end = sub.current_period_end
    time_machine.move_to(end - timedelta(hours=1), tick=False)
    enqueued.calls.clear()
    with django_capture_on_commit_callbacks(execute=True):
        renewals.renewals_run()
    assert not RenewalAttempt.objects.filter(subscription=sub).exists()
    assert not Payment.objects.filter(customer=consented, purpose=renewals.PURPOSE_RENEWAL).exists()
    assert RenewalAttempt.objects.filter(subscription=other).exists()  # charged (the test card is declined)
    sub.refresh_from_db()
    assert not sub.auto_renew and sub.next_charge_at is None
    assert sub.status == Subscription.Status.ACTIVE and sub.current_period_end == end  # the paid term runs on
    off = Event.objects.get(verb="subscription.renewal_cancelled", subject_id=str(sub.pk))
    assert off.actor is None and off.actor_kind == Event.ActorKind.SYSTEM
    assert "consent" in off.data["reason"]
    assert ("subscriptions.tasks.subscription_email", [sub.pk, "emails/renewal_cancelled"], {}) in enqueued.calls
    enqueued.run("subscriptions.tasks.subscription_email")
    [mail] = [m for m in mailoutbox if m.to == [consented.email]]
    assert "first give your consent again on the “Your personal data” page" in mail.body

    time_machine.move_to(end + timedelta(minutes=1), tick=False)
    assert renewals.renewals_run() == {}
    assert renewals.subscriptions_expire() == 1
    sub.refresh_from_db()
    assert sub.status == Subscription.Status.ENDED and sub.end_reason == Subscription.EndReason.CANCELLED


def test_a_past_due_subscription_of_a_customer_who_withdrew_consent_ends_at_the_claim(
        consented, buy, time_machine, enqueued, django_capture_on_commit_callbacks):
    from subscriptions import renewals
    from subscriptions.models import RenewalAttempt, Subscription

    buy(consented)
    sub = Subscription.objects.get(customer=consented)
    Subscription.objects.filter(pk=sub.pk).update(status=Subscription.Status.PAST_DUE,
                                                  first_failed_at=sub.current_period_end)
    _withdraw_leaving_renewal_on(consented)
    time_machine.move_to(sub.current_period_end + timedelta(hours=2), tick=False)
    Subscription.objects.filter(pk=sub.pk).update(next_charge_at=timezone.now())  # a retry due
    enqueued.calls.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert renewals.renewals_claim() == []
    assert not RenewalAttempt.objects.filter(subscription=sub).exists()
    sub.refresh_from_db()
    assert sub.status == Subscription.Status.ENDED and sub.end_reason == Subscription.EndReason.CANCELLED
    assert ("subscriptions.tasks.subscription_email", [sub.pk, "emails/subscription_ended"], {}) in enqueued.calls


def test_the_claim_reads_consent_for_the_whole_batch_in_its_own_queries(plan, documents):
    """As many queries for a batch of 50 as for a batch of 5 (one customer of each has
    withdrawn consent, the rest gave it), and those who withdrew are not charged."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from offer.models import LegalDocument
    from offer.services import document_in_force
    from subscriptions import renewals
    from subscriptions.models import RenewalAttempt, Subscription
    from subscriptions.testing import seed_due_subscriptions

    policy = document_in_force(LegalDocument.Kind.PRIVACY)

    def claim(n):
        ids = seed_due_subscriptions(n=n, plan=plan, history=True)
        customers = list(Subscription.objects.filter(pk__in=ids).order_by("pk").values_list("customer_id", flat=True))
        PersonalDataConsent.objects.bulk_create([PersonalDataConsent(user_id=c, policy=policy) for c in customers])
        PersonalDataConsent.objects.filter(user_id=customers[0]).update(withdrawn_at=timezone.now())
        with CaptureQueriesContext(connection) as ctx:
            attempts = renewals.renewals_claim(limit=n)
        assert len(attempts) == n - 1
        assert not RenewalAttempt.objects.filter(subscription__customer_id=customers[0]).exists()
        assert not Subscription.objects.get(customer_id=customers[0]).auto_renew
        return len(ctx.captured_queries)

    assert claim(5) == claim(50)


# --- What the customer is told: renewal goes back on only with consent given again ------

def test_the_renewal_off_email_and_the_account_say_that_consent_comes_first(
        client, consented, buy, enqueued, django_capture_on_commit_callbacks, mailoutbox, settings):
    from subscriptions.models import Subscription

    buy(consented)
    sub = Subscription.objects.get(customer=consented)
    client.force_login(consented)
    enqueued.calls.clear()
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/profile/privacy/consent/", {"action": "withdraw"})
    enqueued.run("subscriptions.tasks.subscription_email")
    [mail] = [m for m in mailoutbox if m.to == [consented.email]]
    assert "Automatic renewal of Start is off" in mail.body
    assert "first give your consent again on the “Your personal data” page" in mail.body
    assert f"{settings.SITE_URL}/profile/privacy/" in mail.body
    assert "You can turn renewal back on in your personal account" not in mail.body

    page = client.get("/account/").content.decode()
    assert 'id="renewal-needs-consent"' in page and "Give it again on the “Your personal data” page" in page
    assert 'id="renewal-on"' not in page and 'id="renewal-consent"' in page

    client.post("/profile/privacy/consent/", {"action": "give"})
    page = client.get("/account/").content.decode()
    assert 'id="renewal-on"' in page and 'id="renewal-needs-consent"' not in page
    sub.refresh_from_db()
    assert not sub.auto_renew


def test_the_ordinary_renewal_off_email_still_offers_to_turn_it_back_on(
        consented, buy, enqueued, django_capture_on_commit_callbacks, mailoutbox):
    from subscriptions.models import Subscription
    from subscriptions.services import subscription_set_auto_renew

    buy(consented)
    sub = Subscription.objects.get(customer=consented)
    with django_capture_on_commit_callbacks(execute=True):
        subscription_set_auto_renew(subscription_id=sub.pk, on=False, by=consented)
    enqueued.run("subscriptions.tasks.subscription_email")
    [mail] = [m for m in mailoutbox if m.to == [consented.email]]
    assert "You can turn renewal back on in your personal account" in mail.body
    assert "consent" not in mail.body


def test_a_subscription_ended_by_the_withdrawal_says_a_new_purchase_needs_consent_first(
        client, consented, buy, time_machine, enqueued, django_capture_on_commit_callbacks, mailoutbox):
    from subscriptions.models import Subscription

    buy(consented)
    sub = Subscription.objects.get(customer=consented)
    Subscription.objects.filter(pk=sub.pk).update(status=Subscription.Status.PAST_DUE,
                                                  first_failed_at=sub.current_period_end)
    time_machine.move_to(sub.current_period_end + timedelta(hours=2), tick=False)
    client.force_login(consented)
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/profile/privacy/consent/", {"action": "withdraw"})
    sub.refresh_from_db()
    assert sub.status == Subscription.Status.ENDED
    enqueued.run("subscriptions.tasks.subscription_email")
    [mail] = [m for m in mailoutbox if m.to == [consented.email]]
    assert "to buy a plan again, first give your consent again on the “Your personal data” page" in mail.body
    assert "You can buy a plan again at any time" not in mail.body


def test_an_account_with_no_consent_in_force_keeps_renewal_on_when_it_clicks_withdraw(client, customer, buy):
    """An account staff made (no consent row) is not "withdrawn" and may buy: clicking
    Withdraw withdraws nothing, so it must not turn renewal off either (found by the review)."""
    from subscriptions.models import Subscription

    buy(customer)
    sub = Subscription.objects.get(customer=customer)
    assert not PersonalDataConsent.objects.filter(user=customer).exists()
    assert personal_data.renewal_to_stop(customer) is None  # the page announces nothing
    assert personal_data.consent_withdraw(user=customer) == 0
    sub.refresh_from_db()
    assert sub.auto_renew
    assert not Event.objects.filter(verb="subscription.renewal_cancelled", customer=customer).exists()

# --- The other ways to pay refuse too, as checkout does ---------------------------------

CHECKOUT_REFUSAL = "You withdrew your consent to the processing of your personal data."


def test_a_past_due_customer_who_withdrew_consent_cannot_pay_the_renewal_with_another_card(
        client, consented, plan, documents, time_machine):
    from billing.gateways import sandbox
    from billing.models import PaymentMethod
    from subscriptions import renewals
    from subscriptions.models import RenewalAttempt, Subscription
    from tests.billing.helpers import buy as buy_with

    buy_with(consented, plan, documents, card=sandbox.CARD_DECLINE_RENEWALS, token="pd-past-due")
    sub = Subscription.objects.get(customer=consented)
    time_machine.move_to(sub.current_period_end - timedelta(hours=1), tick=False)
    renewals.renewals_run()
    sub.refresh_from_db()
    assert sub.status == Subscription.Status.PAST_DUE
    _withdraw_leaving_renewal_on(consented)
    payments, attempts = Payment.objects.count(), RenewalAttempt.objects.count()
    card = PaymentMethod.objects.get(customer=consented, is_active=True)
    client.force_login(consented)
    url = f"/account/subscriptions/{sub.pk}/pay/"
    # The page says so at once (it showed the form, and refused only on submit), with the way back
    page = client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert CHECKOUT_REFUSAL in page and "to make a purchase" in page and 'name="token"' not in page
    assert page.count(CHECKOUT_REFUSAL) == 1 and 'href="/profile/privacy/"' in page.split("<main")[1]
    # A tab opened before the withdrawal still submits: refused, back to this page, said once
    response = client.post(url, {"token": "opened-before"}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 302 and response["Location"] == url  # back to the page, as checkout
    page = client.get(response["Location"], HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert page.count(CHECKOUT_REFUSAL) == 1 and "to make a purchase" in page and 'name="token"' not in page
    assert (Payment.objects.count(), RenewalAttempt.objects.count()) == (payments, attempts)  # nothing changed
    assert PaymentMethod.objects.get(customer=consented, is_active=True) == card
    sub.refresh_from_db()
    assert sub.status == Subscription.Status.PAST_DUE


def test_a_legal_entity_that_withdrew_consent_gets_no_invoice_for_its_renewal(
        client, company, plan, documents, staff, django_capture_on_commit_callbacks):
    from billing import documents as billing_documents
    from billing.models import PaymentDocument
    from subscriptions.models import Subscription

    consent_record(user=company, request=RequestFactory().post("/accounts/signup/", REMOTE_ADDR="10.9.8.7"))
    invoice = billing_documents.invoice_issue(customer=company, plan=plan)
    with django_capture_on_commit_callbacks(execute=True):
        billing_documents.invoice_mark_paid(invoice_id=invoice.pk, by=staff)
    assert Subscription.objects.get(customer=company).is_live
    client.force_login(company)
    assert 'action="/billing/invoices/new/"' in client.get("/account/").content.decode()  # renewal by invoice
    _withdraw_leaving_renewal_on(company)
    invoices = PaymentDocument.objects.filter(doc_type=PaymentDocument.DocType.INVOICE).count()
    response = client.post("/billing/invoices/new/", {"plan": plan.code}, follow=True, HTTP_ACCEPT_LANGUAGE="en")
    assert response.redirect_chain[-1][0].endswith("/account/#invoices")
    assert CHECKOUT_REFUSAL in response.content.decode()
    assert PaymentDocument.objects.filter(doc_type=PaymentDocument.DocType.INVOICE).count() == invoices
    assert billing_documents.invoice_plans_for(company) == []  # the account offers no invoice meanwhile
    with pytest.raises(billing_documents.InvoiceRefused, match="to make a purchase"):
        billing_documents.invoice_issue(customer=company, plan=plan)

def test_giving_consent_again_says_renewal_is_still_off(client, consented, buy):
    """Renewal turned off by the withdrawal does not come back with the consent: the customer
    is told so and where to turn it back on (they saw 'thank you' only and expected it on)."""
    from subscriptions.models import Subscription

    buy(consented)
    personal_data.consent_withdraw(user=consented)
    client.force_login(consented)
    page = client.post("/profile/privacy/consent/", {"action": "give"}, follow=True).content.decode()
    assert "Automatic renewal of your subscription is still off" in page
    assert not Subscription.objects.get(customer=consented).auto_renew


def test_giving_consent_again_says_nothing_of_renewal_without_a_subscription(client, consented):
    personal_data.consent_withdraw(user=consented)
    client.force_login(consented)
    page = client.post("/profile/privacy/consent/", {"action": "give"}, follow=True).content.decode()
    assert "Thank you: your consent is recorded." in page
    assert "Automatic renewal of your subscription is still off" not in page


def test_the_privacy_page_s_intro_links_the_policy_within_its_sentence(client, consented):
    """Found by the customer explorer: the intro ended "…как описано в Политике
    конфиденциальности. Политика конфиденциальности", the link repeating the sentence's
    last words after it. The words in the sentence are the link."""
    import re

    client.force_login(consented)
    page = client.get("/profile/privacy/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    intro = re.search(r'<p class="muted" id="privacy-intro">(.*?)</p>', page, re.S).group(1)
    assert intro.endswith('are kept, as the <a href="/legal/privacy/">Privacy Policy</a> explains.')
    assert intro.count("Privacy Policy") == 1


def test_an_account_with_no_consent_in_force_is_not_told_its_consent_is_withdrawn(client, customer, buy):
    """An account staff made has no consent row: Withdraw withdraws nothing, and it may still
    buy and renew (personal_data.consent_withdraw). The page said "Your consent is withdrawn.
    You cannot make new purchases until you give it again", neither of which was true."""
    buy(customer)
    client.force_login(customer)
    response = client.post("/profile/privacy/consent/", {"action": "withdraw"}, follow=True,
                           HTTP_ACCEPT_LANGUAGE="en")
    page = response.content.decode()
    assert "Your consent is withdrawn" not in page and "You cannot make new purchases" not in page
    assert "There is no consent of yours on record to withdraw" in page
    assert not personal_data.consent_withdrawn(customer)
    assert not Event.objects.filter(verb="consent.withdrawn", customer=customer).exists()


def test_staff_marking_paid_an_invoice_issued_before_the_withdrawal_are_warned_and_the_term_starts(
        client, company, plan, documents, staff, settings, django_capture_on_commit_callbacks):
    """The invoice was issued with consent, the customer withdrew it, then the money came:
    it has been received, so marking the invoice paid is not refused and the term starts,
    but staff are told (on the confirmation page and after) that consent is withdrawn."""
    from billing import documents as billing_documents
    from subscriptions.models import Subscription

    settings.SOLDEE_STAFF_MFA_REQUIRED = False
    consent_record(user=company, request=RequestFactory().post("/accounts/signup/", REMOTE_ADDR="10.9.8.7"))
    invoice = billing_documents.invoice_issue(customer=company, plan=plan)
    personal_data.consent_withdraw(user=company)
    assert personal_data.consent_withdrawn(company)
    client.force_login(staff)
    action = {"action": "mark_paid_by_bank_transfer", "_selected_action": [invoice.pk]}
    warning = "The customer withdrew consent to the processing of personal data on"
    summary = client.post("/admin/billing/paymentdocument/", action).context["rows"][0][1]
    assert warning in summary and "a refund is the way back" in summary
    credited = timezone.localtime().replace(second=0, microsecond=0)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/admin/billing/paymentdocument/", {
            **action, "confirmed": "yes", "received_at": credited.strftime("%Y-%m-%dT%H:%M")}, follow=True)
    texts = {str(m): m.level_tag for m in response.context["messages"]}
    assert any(t.startswith(f"{invoice.number}: paid, payment") for t in texts)  # not blocked
    assert [level for t, level in texts.items() if t.startswith(f"{invoice.number}: {warning}")] == ["warning"]
    assert Subscription.objects.get(customer=company).is_live  # the money was received: the term runs


def test_marking_paid_an_invoice_of_a_customer_whose_consent_stands_says_nothing_of_it(
        client, company, plan, documents, staff, settings):
    from billing import documents as billing_documents

    settings.SOLDEE_STAFF_MFA_REQUIRED = False
    consent_record(user=company, request=RequestFactory().post("/accounts/signup/", REMOTE_ADDR="10.9.8.7"))
    invoice = billing_documents.invoice_issue(customer=company, plan=plan)
    client.force_login(staff)
    credited = timezone.localtime().replace(second=0, microsecond=0)
    response = client.post("/admin/billing/paymentdocument/", {
        "action": "mark_paid_by_bank_transfer", "_selected_action": [invoice.pk], "confirmed": "yes",
        "received_at": credited.strftime("%Y-%m-%dT%H:%M")}, follow=True)
    texts = [str(m) for m in response.context["messages"]]
    assert texts and not any("withdrew consent" in t for t in texts)
