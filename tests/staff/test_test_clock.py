"""The staff test clock: one customer's schedule moves into the past, the real sweeps run,
evidence is never rewritten, and it is refused in production."""

from datetime import timedelta

import pytest
from django.test import TestCase

from billing.gateways import sandbox
from billing.models import Payment, SandboxTransaction
from billing.services import payment_refresh_from_gateway
from offer.models import Acceptance
from soldee import test_clock
from soldee.models import Event
from subscriptions import agent_platform
from subscriptions.models import AccessGrant, RenewalAttempt, Subscription, Term
from subscriptions.services import subscription_set_auto_renew
from tests.factories import UserFactory

from ..billing.helpers import pay_on_sandbox, start_checkout

pytestmark = pytest.mark.django_db

URL = "/admin/test-clock/"


@pytest.fixture(autouse=True)
def _clock_on(settings):
    settings.DEBUG = False
    settings.SOLDEE_TEST_CLOCK_ENABLED = True
    settings.SOLDEE_STAFF_MFA_REQUIRED = False  # the admin's second factor is tested elsewhere
    settings.RENEWAL_CHARGE_THREADS = 1  # charge in this thread: it sees the test's transaction


@pytest.fixture
def staff(db):
    return UserFactory(is_staff=True, is_superuser=True, email="clock-staff@soldee.kz")


def subscribe(customer, plan, documents, enqueued, card=sandbox.CARD_APPROVE) -> Subscription:
    payment = start_checkout(None, customer, plan, documents, token=f"t-{customer.pk}")
    pay_on_sandbox(payment, card=card)
    with TestCase.captureOnCommitCallbacks(execute=True):
        payment_refresh_from_gateway(payment=payment)
    assert enqueued.run("subscriptions.tasks.access_grant") == 1  # the worker grants access right away
    enqueued.calls.clear()
    return Subscription.objects.get(customer=customer)


def templates_emailed(enqueued) -> list[str]:
    return [args[1] for name, args, _kw in enqueued.calls if name == "subscriptions.tasks.subscription_email"]


def test_refused_when_debug_is_off_and_no_setting_enables_it(settings, customer, staff, client):
    settings.SOLDEE_TEST_CLOCK_ENABLED = False
    assert not test_clock.is_enabled()
    with pytest.raises(test_clock.TestClockDisabled):
        test_clock.advance(customer=customer, by=timedelta(days=1), actor=staff)
    client.force_login(staff)
    page = client.get(URL)
    assert page.status_code == 403 and b"test-clock-disabled" in page.content
    assert client.post(URL, {"customer": customer.email, "amount": 1, "unit": "days"}).status_code == 403
    assert not Event.objects.filter(verb="test_clock.advanced").exists()
    # Disabled, it shows nobody's state either (found by the security review).
    page = client.get(f"{URL}?customer={customer.pk}")
    assert page.status_code == 403 and customer.email.encode() not in page.content


def test_a_customers_state_is_shown_only_to_staff_who_may_see_customers_and_is_logged(client, customer, staff):
    from django.contrib.auth.models import Permission

    clerk = UserFactory(is_staff=True)
    client.force_login(clerk)
    page = client.get(f"{URL}?customer={customer.pk}")
    assert customer.email.encode() not in page.content
    clerk.user_permissions.add(*Permission.objects.filter(codename__in=["view_user", "view_subscription"]))
    client.force_login(UserFactory._meta.model.objects.get(pk=clerk.pk))  # permissions are cached per user object
    page = client.get(f"{URL}?customer={customer.pk}")
    assert customer.email.encode() in page.content
    assert Event.objects.filter(verb="staff.viewed", customer=customer, actor=clerk).count() == 1


def test_a_truthy_string_is_not_an_explicit_enable(settings):
    settings.SOLDEE_TEST_CLOCK_ENABLED = "yes"
    assert not test_clock.is_enabled()
    settings.DEBUG = True
    assert test_clock.is_enabled()


def test_reminder_then_renewal_happen_through_the_real_services(customer, plan, documents, staff, enqueued,
                                                                django_capture_on_commit_callbacks):
    sub = subscribe(customer, plan, documents, enqueued)
    first_payment = Payment.objects.get(customer=customer)
    paid_at, first_end = first_payment.paid_at, sub.current_period_end
    acceptance_at = Acceptance.objects.get(customer=customer).accepted_at
    event_times = dict(Event.objects.filter(customer=customer).values_list("pk", "created_at"))

    result = test_clock.advance(customer=customer, by=timedelta(days=26, hours=1), actor=staff)
    sub.refresh_from_db()
    assert result.outcome["reminders"] == 1 and "renewals_succeeded" not in result.outcome
    assert templates_emailed(enqueued) == ["emails/renewal_reminder"]
    assert sub.current_period_end == first_end - timedelta(days=26, hours=1)
    assert sub.reminder_sent_for == sub.current_period_end

    enqueued.calls.clear()
    with django_capture_on_commit_callbacks(execute=True):
        test_clock.advance(customer=customer, by=timedelta(days=3), actor=staff)
    sub.refresh_from_db()
    term2 = Term.objects.get(subscription=sub, number=2)
    term1 = Term.objects.get(subscription=sub, number=1)
    assert term2.starts_at == term1.ends_at  # renewed at the (moved) term end, no gap
    assert (sub.current_period_start, sub.current_period_end) == (term2.starts_at, term2.ends_at)
    assert term2.payment.status == Payment.Status.SUCCEEDED
    assert term2.access_grant.status == AccessGrant.Status.GRANTED
    assert "subscriptions.tasks.access_grant" in enqueued.names()  # and the worker would repeat it harmlessly

    # Evidence is never rewritten: the first payment, the acceptance, the event log.
    first_payment.refresh_from_db()
    assert first_payment.paid_at == paid_at
    assert Acceptance.objects.get(customer=customer, payment=first_payment).accepted_at == acceptance_at
    for pk, created_at in event_times.items():
        assert Event.objects.get(pk=pk).created_at == created_at
    # Each step is recorded, by the staff member, and they add up to the advance.
    advanced = Event.objects.filter(verb="test_clock.advanced", customer=customer)
    assert advanced.count() >= 4 and set(advanced.values_list("actor", flat=True)) == {staff.pk}
    assert test_clock.offset(customer) == timedelta(days=29, hours=1)


def test_declined_renewals_are_retried_then_the_subscription_lapses(customer, plan, documents, staff, enqueued,
                                                                    django_capture_on_commit_callbacks):
    sub = subscribe(customer, plan, documents, enqueued, card=sandbox.CARD_DECLINE_RENEWALS)
    with django_capture_on_commit_callbacks(execute=True):
        result = test_clock.advance(customer=customer, by=timedelta(days=35), actor=staff)
    sub.refresh_from_db()
    assert sub.status == Subscription.Status.ENDED and sub.end_reason == Subscription.EndReason.LAPSED
    attempts = RenewalAttempt.objects.filter(subscription=sub).order_by("attempt_no")
    assert [a.status for a in attempts] == ["declined"] * 4  # the first try and 3 retries (1, 3, 5 days)
    first_failed = attempts[0].finished_at
    gaps = [round((a.finished_at - first_failed) / timedelta(days=1)) for a in attempts]
    assert gaps == [0, 1, 3, 5]
    assert templates_emailed(enqueued) == ["emails/renewal_reminder"] + ["emails/renewal_failed"] * 3 + [
        "emails/subscription_lapsed"]
    assert AccessGrant.objects.get(term__subscription=sub).status == AccessGrant.Status.REVOKED
    assert result.outcome["renewals_declined"] == 4
    assert SandboxTransaction.objects.filter(kind="token_charge").count() == 4


def test_renewal_off_ends_at_the_term_end(customer, plan, documents, staff, enqueued):
    sub = subscribe(customer, plan, documents, enqueued)
    subscription_set_auto_renew(subscription_id=sub.pk, on=False, by=customer)
    test_clock.advance(customer=customer, by=timedelta(days=29), actor=staff)
    sub.refresh_from_db()
    assert sub.is_live
    result = test_clock.advance(customer=customer, by=timedelta(days=2), actor=staff)
    sub.refresh_from_db()
    assert result.outcome["expired"] == 1
    assert sub.status == Subscription.Status.ENDED and sub.end_reason == Subscription.EndReason.CANCELLED
    assert not RenewalAttempt.objects.exists()


def test_access_not_granted_within_30_minutes_is_flagged(customer, plan, documents, staff, enqueued, monkeypatch):
    payment = start_checkout(None, customer, plan, documents, token="t-late")
    pay_on_sandbox(payment)
    payment_refresh_from_gateway(payment=payment)  # the access task is recorded, not run

    def platform_down(**kwargs):
        raise agent_platform.PlatformError("platform down")

    monkeypatch.setattr(agent_platform, "is_configured", lambda: True)
    monkeypatch.setattr(agent_platform, "send", platform_down)
    result = test_clock.advance(customer=customer, by=timedelta(hours=1), actor=staff)
    grant = AccessGrant.objects.get(customer=customer)
    assert grant.breached_at is not None and grant.status == AccessGrant.Status.PENDING
    assert result.outcome["deadline_breaches"] == 1
    assert Event.objects.filter(verb="access.deadline_missed", customer=customer).count() == 1


def test_a_critical_error_left_unresolved_past_its_deadline_is_noticed(customer, plan, documents, staff,
                                                                       enqueued):
    from django.utils import timezone

    from refunds import services as refund_services
    from refunds.models import ErrorReport

    subscribe(customer, plan, documents, enqueued)
    report = refund_services.error_report_create(customer=customer, what_fails="The agent is down",
                                                 since=timezone.now(), severity="blocker")
    ErrorReport.objects.filter(pk=report.pk).update(status=ErrorReport.Status.CONFIRMED, confirmed_at=timezone.now())
    result = test_clock.advance(customer=customer, by=timedelta(days=10), actor=staff)
    report.refresh_from_db()
    assert report.deadline_missed_at is not None and result.outcome["error_deadlines_missed"] == 1
    assert Event.objects.filter(verb="error_report.deadline_missed", customer=customer).count() == 1


def test_other_customers_are_not_moved(customer, other_customer, plan, documents, staff, enqueued):
    subscribe(customer, plan, documents, enqueued)
    other = subscribe(other_customer, plan, documents, enqueued)
    test_clock.advance(customer=customer, by=timedelta(days=2), actor=staff)
    before = (other.current_period_start, other.current_period_end, other.next_charge_at)
    other.refresh_from_db()
    assert (other.current_period_start, other.current_period_end, other.next_charge_at) == before


def test_staff_page_advances_and_shows_the_state(client, customer, plan, documents, staff, enqueued):
    sub = subscribe(customer, plan, documents, enqueued)
    client.force_login(staff)
    assert client.get(URL).status_code == 200
    response = client.post(URL, {"customer": customer.email, "amount": 30, "unit": "hours"})
    assert response.status_code == 302 and response["Location"].endswith(f"?customer={customer.pk}")
    page = client.get(response["Location"]).content.decode()
    assert f"Advanced {customer.email} by 1 d 6 h 0 min in 1 step." in page  # not "30 days, 0:00:00 in 1 steps"
    assert customer.email in page and "test_clock.advanced" in page and "clock moved by 1 d 6 h 0 min" in page
    sub.refresh_from_db()
    assert Term.objects.get(subscription=sub).starts_at == sub.current_period_start
    assert AccessGrant.objects.get(customer=customer).breached_at is None  # granted on time, moved with it
    assert 'style="' not in page and "<script>" not in page


def test_the_staff_message_s_last_sentence_starts_with_a_capital(client, customer, staff, settings):
    """"Advanced … in 1 step. Nothing was due." — not "… in 1 step. nothing was due."
    (nor "(шагов: 1). ничего не требовалось выполнить." in Russian)."""
    client.force_login(staff)
    for language, text in (("en", "in 1 step. Nothing was due."),
                           ("ru", "(шагов: 1). Ничего не требовалось выполнить.")):
        client.cookies["django_language"] = language
        response = client.post(URL, {"customer": customer.email, "amount": 1, "unit": "hours"}, follow=True)
        assert text in response.content.decode(), language


def test_the_staff_message_names_what_ran_in_the_staff_member_s_language(
        client, customer, plan, documents, staff, enqueued):
    """Found by the explorer: the Russian and Kazakh admin read "reminders: 1,
    renewals_succeeded: 1" (the result's keys)."""
    subscribe(customer, plan, documents, enqueued)
    client.force_login(staff)
    client.cookies["django_language"] = "ru"
    response = client.post(URL, {"customer": customer.email, "amount": 30, "unit": "days"}, follow=True)
    page = response.content.decode()
    assert "Оплаченные продления: " in page or "оплаченные продления: " in page
    assert "renewals_succeeded" not in page and "reminders:" not in page


def test_the_page_is_for_staff_only(client, customer):
    client.force_login(customer)
    response = client.post(URL, {"customer": customer.email, "amount": 1, "unit": "days"})
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert not Event.objects.filter(verb="test_clock.advanced").exists()


def test_a_reminder_claimed_by_the_clock_is_sent_though_the_clock_moved_on(customer, plan, documents, staff,
                                                                           enqueued, mailoutbox):
    """The reminder task names the end of the term it was claimed for, and a worker drops a
    reminder whose term moved on (renewed). The clock moves the period end back too, in the
    next step of the same advance or the next advance, before the worker may run the task:
    that is not a renewal, and the reminder is still sent."""
    sub = subscribe(customer, plan, documents, enqueued)
    result = test_clock.advance(customer=customer, by=timedelta(days=26, hours=1), actor=staff)
    assert result.outcome["reminders"] == 1 and len(result.steps) > 1  # the clock moved after the claim
    test_clock.advance(customer=customer, by=timedelta(hours=1), actor=staff)
    sent = len(mailoutbox)
    assert enqueued.run("subscriptions.tasks.subscription_email") == 1
    assert len(mailoutbox) == sent + 1 and "we will charge" in mailoutbox[-1].body
    sub.refresh_from_db()
    assert sub.reminder_sent_for == sub.current_period_end
