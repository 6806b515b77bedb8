"""Renewals after CloudPayments' hard declines ("Безусловно негативные", developers.cloudpayments.ru
#kody-oshibok): regular payments must not be sent again to a card refused that way."""

import itertools
from datetime import timedelta

import httpx
import pytest
import respx
from django.utils import timezone

from billing.models import PaymentMethod
from soldee.models import Event
from subscriptions import renewals
from subscriptions.models import Subscription

from .cp_helpers import API_URL, form_body, pay_fields, post_form
from .test_cp_api import transaction_model

pytestmark = pytest.mark.django_db


def _declined(payment, code, transaction_id):
    return {"Success": False, "Message": None, "Model": transaction_model(
        payment, TransactionId=transaction_id, ReasonCode=code, Reason="Declined", CardHolderMessage="Свяжитесь с вашим банком",
        Status="Declined", StatusCode=5, AuthCode=None, ConfirmDate=None, ConfirmDateIso=None)}


@pytest.mark.parametrize(("code", "charged_again"), [(5001, False), (5057, False), (5051, True)])
def test_a_hard_decline_retires_the_saved_card_and_retries_do_not_charge_it(
    client, pending_payment, time_machine, django_capture_on_commit_callbacks, code, charged_again
):
    with django_capture_on_commit_callbacks(execute=True):
        assert post_form(client, form_body(pay_fields(pending_payment))).json() == {"code": 0}
    sub = Subscription.objects.get(customer=pending_payment.customer)
    card = PaymentMethod.objects.get(customer=pending_payment.customer)
    time_machine.move_to(sub.current_period_end - timedelta(hours=24), tick=False)
    first_try = timezone.now()
    with respx.mock(base_url=API_URL) as api:
        ids = itertools.count(891510500)
        route = api.post("/payments/tokens/charge").mock(
            side_effect=lambda request: httpx.Response(200, json=_declined(pending_payment, code, next(ids))))
        with django_capture_on_commit_callbacks(execute=True):
            assert renewals.renewals_run() == {"declined": 1}
        card.refresh_from_db()
        assert card.is_active is charged_again
        assert Event.objects.filter(verb="card.refused").exists() is not charged_again
        time_machine.move_to(first_try + timedelta(days=1), tick=False)
        with django_capture_on_commit_callbacks(execute=True):
            assert renewals.renewals_run() == {"declined": 1}  # the retry still runs the schedule
        assert route.call_count == (2 if charged_again else 1)
    sub.refresh_from_db()
    assert sub.status == "past_due"


def test_the_refused_card_paid_with_anew_on_the_payment_page_is_saved_again(
    client, pending_payment, time_machine, django_capture_on_commit_callbacks
):
    """The customer is asked to pay with a card anew, which is then saved for renewals.
    Paying on the hosted page (the bank approving it, with 3-D Secure) with the card it
    refused, once the customer sorted it out with their bank, sets that card up anew: when
    the gateway answers with the same token, the saved card is in use again, not left
    retired with no card for renewals."""
    from billing.gateways import ChargeResult, ChargeStatus
    from billing.services import payment_settle

    with django_capture_on_commit_callbacks(execute=True):
        assert post_form(client, form_body(pay_fields(pending_payment))).json() == {"code": 0}
    sub = Subscription.objects.get(customer=pending_payment.customer)
    card = PaymentMethod.objects.get(customer=pending_payment.customer)
    time_machine.move_to(sub.current_period_end - timedelta(hours=24), tick=False)
    with respx.mock(base_url=API_URL) as api:
        api.post("/payments/tokens/charge").mock(
            return_value=httpx.Response(200, json=_declined(pending_payment, 5001, 891510600)))
        with django_capture_on_commit_callbacks(execute=True):
            assert renewals.renewals_run() == {"declined": 1}
    card.refresh_from_db()
    assert not card.is_active
    sub.refresh_from_db()
    payment = renewals.renewal_customer_payment(subscription=sub, token="page-1", client_ip=None, user_agent="")
    with django_capture_on_commit_callbacks(execute=True):
        payment_settle(public_id=payment.public_id, source="test", charge=ChargeResult(
            status=ChargeStatus.APPROVED, gateway_ref="891510601", amount_minor=payment.amount_minor,
            currency=payment.currency, card_token=card.token, card_mask=card.card_mask))
    card.refresh_from_db()
    payment.refresh_from_db()
    assert card.is_active and payment.payment_method_id == card.pk
    assert list(PaymentMethod.objects.filter(customer=pending_payment.customer, is_active=True)) == [card]
    assert Event.objects.filter(verb="card.saved", subject_id=str(card.pk)).count() == 2
