"""Staff alerts go from a worker (soldee.tasks.staff_alert), retried; the transaction or
request that raises one never waits for the mail server."""

import pytest
from django.db import transaction
from django.utils import timezone

from accounts.models import CustomerProfile
from soldee import tasks
from soldee.celery import app
from soldee.models import Event
from subscriptions import renewals
from subscriptions.models import Subscription
from subscriptions.testing import seed_due_subscriptions

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("name", ["soldee.tasks.staff_alert", "accounts.tasks.staff_alert",
                                  "refunds.tasks.staff_alert"])
def test_the_alert_task_and_its_earlier_names_send_the_mail(name, mailoutbox):
    # Messages queued by an earlier release under the per-app names are still delivered.
    app.tasks[name].apply(args=("Something to look at", "Details"))
    assert [m.subject for m in mailoutbox] == ["[Soldee staff] Something to look at"]
    assert mailoutbox[0].body == "Details"


def test_a_mail_server_that_is_down_is_retried_then_reported(monkeypatch, mailoutbox):
    calls = []

    def refused(**kwargs):
        calls.append(kwargs)
        raise ConnectionRefusedError("mail server down")

    monkeypatch.setattr("django.core.mail.send_mail", refused)
    result = tasks.staff_alert.apply(args=("Subject", "Body"))
    assert result.failed() and isinstance(result.result, ConnectionRefusedError)
    assert len(calls) == 1 + tasks.staff_alert.max_retries


def test_the_alert_is_queued_on_commit_and_not_when_rolled_back(enqueued, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            tasks.staff_alert_on_commit("kept", "body")
        with pytest.raises(RuntimeError), transaction.atomic():
            tasks.staff_alert_on_commit("rolled back", "body")
            raise RuntimeError
    assert enqueued.calls == [("soldee.tasks.staff_alert", ["kept", "body"], {})]


def test_renewals_deferred_for_want_of_a_rate_alert_staff_from_a_worker(
        plan, documents, enqueued, mailoutbox, django_capture_on_commit_callbacks):
    [sub_id] = seed_due_subscriptions(n=1, plan=plan)
    customer = Subscription.objects.get(pk=sub_id).customer
    CustomerProfile.objects.create(user=customer, is_resident=False, country="US", payment_currency="USD")
    with django_capture_on_commit_callbacks(execute=True):
        assert renewals.renewals_claim() == []  # no rate at all: nothing charged
    assert Event.objects.filter(verb="renewal.deferred", subject_id=str(sub_id)).exists()
    assert not mailoutbox  # the claim's transaction waited for no mail server
    assert enqueued.run("soldee.tasks.staff_alert") == 1
    assert "Renewals deferred: no usable exchange rate" in mailoutbox[0].subject
    Subscription.objects.filter(pk=sub_id).update(next_charge_at=timezone.now())  # an hour later, still no rate
    with django_capture_on_commit_callbacks(execute=True):
        assert renewals.renewals_claim() == []
    assert enqueued.run("soldee.tasks.staff_alert") == 0  # not every minute: once a day
    assert Event.objects.filter(verb="renewal.deferred", subject_id=str(sub_id)).count() == 2


def test_a_renewal_deferred_for_a_currency_the_portal_does_not_offer_names_the_real_cause(
        plan, documents, enqueued, mailoutbox, django_capture_on_commit_callbacks):
    [sub_id] = seed_due_subscriptions(n=1, plan=plan)
    customer = Subscription.objects.get(pk=sub_id).customer
    CustomerProfile.objects.create(user=customer, is_resident=False, country="DE", payment_currency="BTC")
    with django_capture_on_commit_callbacks(execute=True):
        assert renewals.renewals_claim() == []
    enqueued.run("soldee.tasks.staff_alert")
    body = mailoutbox[0].body
    assert "names no currency the portal offers" in body and customer.email in body
    assert "no usable NBK rate" not in body  # the rates are not the cause here
    [other_id] = seed_due_subscriptions(n=1, plan=plan)  # another batch, another customer: same cause
    other = Subscription.objects.get(pk=other_id).customer
    CustomerProfile.objects.create(user=other, is_resident=False, country="DE", payment_currency="BTC")
    with django_capture_on_commit_callbacks(execute=True):
        renewals.renewals_claim(subscription_ids=[other_id])
    assert enqueued.run("soldee.tasks.staff_alert") == 0  # once a day per cause, whoever it concerns


def test_the_missed_access_deadline_alert_is_retried_while_the_mail_server_is_down(
        customer, plan, documents, monkeypatch, mailoutbox):
    from billing.services import payment_refresh_from_gateway
    from subscriptions.models import AccessGrant
    from subscriptions.tasks import access_breach_alert
    from tests.billing.helpers import pay_on_sandbox, start_checkout

    payment = start_checkout(None, customer, plan, documents, token="t")
    pay_on_sandbox(payment)
    payment_refresh_from_gateway(payment=payment)
    grant = AccessGrant.objects.get(customer=customer)
    real = __import__("django.core.mail", fromlist=["send_mail"]).send_mail
    calls = []

    def down_twice(**kwargs):
        calls.append(kwargs)
        if len(calls) <= 2:
            raise ConnectionRefusedError("mail server down")
        return real(**kwargs)

    monkeypatch.setattr("django.core.mail.send_mail", down_twice)
    assert access_breach_alert.apply(args=[grant.pk]).successful()
    assert len(calls) == 3 and "Access not granted within 30 minutes" in mailoutbox[0].subject
    # In Almaty time, as every other alert (found by the dates review: it said UTC).
    due = timezone.localtime(grant.deadline_at).strftime("%Y-%m-%d %H:%M")
    assert f"was due at {due} (Almaty time)" in mailoutbox[0].body
