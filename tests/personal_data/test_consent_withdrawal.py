"""Withdrawing consent to personal-data processing is recorded (withdrawn_at + an event);
the account can then not be used for new purchases until consent is given again."""

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
