"""Withdrawing consent to personal-data processing is recorded (withdrawn_at + an event);
the account can then not be used for new purchases until consent is given again."""

from datetime import timedelta

import pytest
from django.test import RequestFactory

from accounts import personal_data
from accounts.models import PersonalDataConsent
from accounts.services import consent_record
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
    with pytest.raises(CheckoutRefused, match="Give it again on the Personal data page"):
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
