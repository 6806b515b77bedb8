"""A non-resident's renewal deferred for want of a payment currency or of an NBK rate: the
customer is told once per term (never per hourly try), the term that ends unrenewed goes
past due like a declined renewal, and one still deferred at the lapse date lapses."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import CustomerProfile
from billing.models import ExchangeRate
from soldee.models import Event
from subscriptions import renewals
from subscriptions.models import AccessGrant, Subscription, Term

from ..billing.helpers import buy

pytestmark = pytest.mark.django_db

EMAIL = "subscriptions.tasks.subscription_email"


@pytest.fixture
def sub(customer, plan, documents):
    buy(customer, plan, documents, token=f"t-{customer.pk}")
    return Subscription.objects.get(customer=customer)


def non_resident(customer, currency):
    CustomerProfile.objects.filter(user=customer).update(
        is_resident=False, country="US", payment_currency=currency
    )


def sweep_at(when, time_machine, enqueued, capture, mailoutbox):
    """The renewal sweep at `when`, and the e-mails it queued sent: returns their subjects."""
    time_machine.move_to(when, tick=False)
    sent = len(mailoutbox)
    with capture(execute=True):
        renewals.renewals_run()
    enqueued.run(EMAIL)
    return [m.subject for m in mailoutbox[sent:]]


def test_a_customer_without_a_currency_is_told_once_a_term_then_past_due_then_lapsed(
    client,
    sub,
    customer,
    time_machine,
    enqueued,
    django_capture_on_commit_callbacks,
    mailoutbox,
    settings,
):
    non_resident(customer, "KZT")  # a non-resident whose profile names no currency we offer
    end = sub.current_period_end

    def run(when):
        return sweep_at(
            when, time_machine, enqueued, django_capture_on_commit_callbacks, mailoutbox
        )

    assert run(end - timedelta(hours=23)) == [
        "Soldee: choose your payment currency for the renewal"
    ]
    body = mailoutbox[-1].body
    assert "Non-residents pay in one of these currencies: USD, EUR, RUB" in body
    assert f"{settings.SITE_URL}/profile/" in body  # where to choose it
    sub.refresh_from_db()
    assert sub.status == Subscription.Status.ACTIVE and sub.next_charge_at == end - timedelta(
        hours=22
    )
    for hours in range(22, 0, -1):  # tried every hour: no e-mail per try
        assert run(end - timedelta(hours=hours)) == []
    assert Event.objects.filter(verb="renewal.deferred", subject_id=str(sub.pk)).count() == 23

    # The term ends unrenewed: past due, as a declined renewal, and the customer is told.
    assert run(end + timedelta(minutes=1)) == ["Soldee: your subscription has not been renewed yet"]
    sub.refresh_from_db()
    assert sub.status == Subscription.Status.PAST_DUE and sub.first_failed_at == end + timedelta(
        minutes=1
    )
    body = mailoutbox[-1].body
    assert (
        "its renewal could not be charged yet" in body and f"{settings.SITE_URL}/profile/" in body
    )
    assert "the subscription ends" in body
    assert run(end + timedelta(hours=2)) == []  # once a term
    client.force_login(customer)
    page = client.get("/account/").content.decode()
    assert (
        "The renewal could not be charged yet:" in page
        and "We could not charge your saved card" not in page
    )

    # Still no currency when a declined renewal's last retry would have been made: it lapses.
    assert run(sub.lapses_at + timedelta(minutes=1)) == ["Soldee: your subscription has ended"]
    sub.refresh_from_db()
    assert (
        sub.status == Subscription.Status.ENDED and sub.end_reason == Subscription.EndReason.LAPSED
    )
    assert not AccessGrant.objects.filter(term__subscription=sub).exclude(status="revoked").exists()
    assert run(sub.ended_at + timedelta(hours=1)) == []
    assert Term.objects.filter(subscription=sub).count() == 1  # never charged


def test_a_missing_rate_says_nothing_before_the_term_ends_and_the_renewal_goes_through_once_it_is_there(
    sub, customer, time_machine, enqueued, django_capture_on_commit_callbacks, mailoutbox
):
    non_resident(customer, "USD")
    end = sub.current_period_end

    def run(when):
        return sweep_at(
            when, time_machine, enqueued, django_capture_on_commit_callbacks, mailoutbox
        )

    assert run(end - timedelta(hours=23)) == []  # no rate: ours to fix, usually within hours
    assert run(end + timedelta(minutes=30)) == [
        "Soldee: your subscription has not been renewed yet"
    ]
    body = mailoutbox[-1].body
    assert "rate needed to convert the price to your currency is not available yet" in body
    assert "/profile/" not in body
    assert run(end + timedelta(hours=1, minutes=30)) == []
    ExchangeRate.objects.create(
        currency="USD",
        rate_date=timezone.localdate(end + timedelta(hours=2, minutes=30)),
        kzt_per_unit=Decimal("500"),
        source="nbk",
    )
    run(end + timedelta(hours=2, minutes=30))
    sub.refresh_from_db()
    term = Term.objects.get(subscription=sub, number=2)
    assert term.payment.currency == "USD" and term.starts_at == end + timedelta(hours=2, minutes=30)
    assert sub.status == Subscription.Status.ACTIVE and sub.first_failed_at is None


def test_the_currency_notice_is_not_sent_once_the_currency_is_chosen(
    sub, customer, time_machine, enqueued, django_capture_on_commit_callbacks, mailoutbox
):
    non_resident(customer, "KZT")
    time_machine.move_to(sub.current_period_end - timedelta(hours=23), tick=False)
    with django_capture_on_commit_callbacks(execute=True):
        renewals.renewals_run()
    CustomerProfile.objects.filter(user=customer).update(
        payment_currency="EUR"
    )  # before the worker took it
    ExchangeRate.objects.create(
        currency="EUR", rate_date=timezone.localdate(), kzt_per_unit=Decimal("550"), source="nbk"
    )
    assert enqueued.run(EMAIL) == 1
    assert mailoutbox == []


# --- The reminder days before the charge -----------------------------------------------

@pytest.mark.parametrize("currency, told", [("KZT", True), ("USD", False), (None, False)])
def test_the_reminder_asks_a_non_resident_without_a_payment_currency_to_choose_one(
    sub, customer, currency, told, mailoutbox, settings
):
    """Found no currency offered to non-residents in the profile, the renewal will be
    deferred: the reminder says so and links the customer details, only then (a non-resident
    paying in USD and a resident are not told)."""
    from subscriptions.tasks import subscription_email

    if currency is not None:
        non_resident(customer, currency)
    subscription_email(sub.pk, "emails/renewal_reminder")
    body = mailoutbox[-1].body
    assert "we will charge" in body
    assert ("Until you do, the renewal cannot be charged." in body) is told
    assert ("Non-residents pay in one of these currencies: USD, EUR, RUB" in body) is told
    assert (f"{settings.SITE_URL}/profile/" in body) is told


# --- A deferral's side effects never cost the rest of the batch its charges ---------------

@pytest.fixture
def two_due(customer, other_customer, plan, documents, time_machine):
    """The deferred subscription (no payment currency) and a resident's, due together."""
    time_machine.move_to(timezone.now(), tick=False)
    buy(customer, plan, documents, token="t-deferred")
    buy(other_customer, plan, documents, token="t-charged")
    non_resident(customer, "KZT")
    deferred = Subscription.objects.get(customer=customer)
    charged = Subscription.objects.get(customer=other_customer)
    return deferred, charged


def test_a_notice_the_broker_refuses_does_not_fail_the_claim_after_its_commit(
    two_due, time_machine, monkeypatch, django_capture_on_commit_callbacks
):
    """The claim has committed its attempts when its on-commit callbacks run: a notice the
    broker refuses must not raise out of it (the batch would go uncharged until the
    reconciliation) nor drop the callbacks queued after it (the staff alert)."""
    from celery.app.task import Task

    deferred, charged = two_due
    sent = []

    def apply_async(self, args=None, kwargs=None, **options):
        if self.name == EMAIL:
            raise OSError("broker down")
        sent.append(self.name)

    monkeypatch.setattr(Task, "apply_async", apply_async)
    time_machine.move_to(charged.current_period_end - timedelta(hours=23), tick=False)
    with django_capture_on_commit_callbacks(execute=True):
        attempts = renewals.renewals_claim()
    assert [a.subscription_id for a in renewals.RenewalAttempt.objects.filter(pk__in=attempts)] == [charged.pk]
    assert "soldee.tasks.staff_alert" in sent  # queued after the refused notice


def test_a_deferred_lapse_that_fails_does_not_keep_the_batch_from_its_charges(
    two_due, time_machine, monkeypatch
):
    deferred, charged = two_due
    now = charged.current_period_end - timedelta(hours=23)
    Subscription.objects.filter(pk=deferred.pk).update(
        status=Subscription.Status.PAST_DUE, first_failed_at=now - timedelta(days=30), next_charge_at=now)

    def broken(**kwargs):
        raise RuntimeError("lapse failed")

    monkeypatch.setattr("subscriptions.services.subscription_end", broken)
    time_machine.move_to(now, tick=False)
    attempts = renewals.renewals_claim()
    assert [a.subscription_id for a in renewals.RenewalAttempt.objects.filter(pk__in=attempts)] == [charged.pk]


def test_why_the_renewal_cannot_be_charged_is_in_the_customers_language_not_the_workers(
    sub, customer, mailoutbox
):
    """The sentence naming the currencies comes from the exchange module's refusal, built
    when the task runs: it must be in the e-mail's language, as the text around it is."""
    from django.utils import translation

    from subscriptions.tasks import subscription_email

    non_resident(customer, "KZT")
    customer.language = "ru"
    customer.save(update_fields=["language"])
    with translation.override("en"):  # the worker's language
        subscription_email(sub.pk, "emails/renewal_reminder")
    body = mailoutbox[-1].body
    assert "Пока вы этого не сделаете, оплату продления нельзя списать." in body
    assert "Нерезиденты оплачивают в одной из этих валют: USD, EUR, RUB" in body
    assert "Non-residents pay in one of these currencies" not in body
