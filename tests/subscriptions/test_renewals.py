"""Automatic renewal, dunning and lapse (clauses 6.3-6.5)."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from billing.gateways import sandbox
from billing.models import Payment, PaymentMethod, SandboxTransaction
from offer.models import Acceptance, LegalDocument
from soldee.models import Event
from subscriptions import renewals
from subscriptions.models import AccessGrant, RenewalAttempt, Subscription, Term
from subscriptions.services import CheckoutRefused, entitlement, subscription_set_auto_renew

from ..billing.helpers import buy, pay_on_sandbox

pytestmark = pytest.mark.django_db


def subscribe(customer, plan, documents, card=sandbox.CARD_APPROVE) -> Subscription:
    buy(customer, plan, documents, card=card, token=f"t-{customer.pk}")
    return Subscription.objects.get(customer=customer)


def token_charges():
    return SandboxTransaction.objects.filter(kind="token_charge").count()


@pytest.fixture
def sub(customer, plan, documents):
    return subscribe(customer, plan, documents)


def test_nothing_is_charged_before_the_lead_time(sub, time_machine):
    time_machine.move_to(sub.current_period_end - timedelta(hours=25), tick=False)
    assert renewals.renewals_run() == {}
    assert token_charges() == 0


def test_a_due_subscription_renews_from_the_previous_end_through_the_same_post_payment_path(
    sub, time_machine, enqueued, django_capture_on_commit_callbacks
):
    first_end = sub.current_period_end
    enqueued.calls.clear()
    time_machine.move_to(first_end - timedelta(hours=23), tick=False)
    with django_capture_on_commit_callbacks(execute=True):
        assert renewals.renewals_run() == {"succeeded": 1}
    sub.refresh_from_db()
    term = Term.objects.get(subscription=sub, number=2)
    assert term.starts_at == first_end  # no paid day lost, no gap
    assert term.ends_at - term.starts_at == timedelta(days=30)
    assert (sub.current_period_start, sub.current_period_end) == (term.starts_at, term.ends_at)
    assert sub.status == "active" and sub.next_charge_at == term.ends_at - timedelta(hours=24)
    payment = term.payment
    assert payment.status == Payment.Status.SUCCEEDED and payment.method == "saved_card"
    assert payment.idempotency_key == f"renewal:{sub.pk}:2:1"
    assert AccessGrant.objects.filter(term=term).exists()
    assert sorted(enqueued.names()) == ["billing.document_tasks.document_render", "billing.tasks.receipt_email",
                                        "subscriptions.tasks.access_grant"]
    assert Event.objects.filter(verb="subscription.renewed", subject_id=str(sub.pk)).count() == 1


def test_the_access_deadline_of_a_term_paid_ahead_runs_from_its_start(sub, time_machine):
    """Renewed a day early: access for the new term is due by its start (+30 minutes), so a
    renewal settled hours after the charge (reconciliation) is not a missed deadline."""
    from subscriptions.services import access_provision

    time_machine.move_to(sub.current_period_end - timedelta(hours=23), tick=False)
    renewals.renewals_run()
    term = Term.objects.get(subscription=sub, number=2)
    grant = AccessGrant.objects.get(term=term)
    assert grant.deadline_at == term.starts_at + timedelta(minutes=30) > term.payment.paid_at + timedelta(hours=22)
    time_machine.move_to(term.payment.paid_at + timedelta(hours=3), tick=False)
    access_provision(grant_id=grant.pk)
    grant.refresh_from_db()
    assert grant.granted_on_time and grant.breached_at is None


def test_running_the_sweeper_twice_charges_once(sub, time_machine):
    time_machine.move_to(sub.current_period_end - timedelta(hours=1), tick=False)
    renewals.renewals_run()
    renewals.renewals_run()
    renewals.renewals_reconcile(now=timezone.now() + timedelta(hours=1))
    assert token_charges() == 1
    assert Term.objects.filter(subscription=sub).count() == 2


def test_the_plans_current_price_applies_at_renewal(sub, plan, time_machine):
    plan.price_minor = 3_490_000
    plan.save()
    time_machine.move_to(sub.current_period_end - timedelta(hours=1), tick=False)
    renewals.renewals_run()
    assert Term.objects.get(subscription=sub, number=2).payment.amount_minor == 3_490_000
    assert Term.objects.get(subscription=sub, number=1).payment.amount_minor == 2_990_000


def test_cancelled_subscriptions_are_not_charged_and_end_at_term_end(
    sub, customer, time_machine, enqueued, django_capture_on_commit_callbacks
):
    subscription_set_auto_renew(subscription_id=sub.pk, on=False, by=customer)
    time_machine.move_to(sub.current_period_end - timedelta(hours=1), tick=False)
    assert renewals.renewals_run() == {}
    assert renewals.subscriptions_expire() == 0  # still paid for
    time_machine.move_to(sub.current_period_end + timedelta(seconds=1), tick=False)
    enqueued.calls.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert renewals.subscriptions_expire() == 1
    sub.refresh_from_db()
    assert sub.status == "ended" and sub.end_reason == "cancelled"
    assert not AccessGrant.objects.filter(term__subscription=sub).exclude(status="revoked").exists()
    assert ("subscriptions.tasks.subscription_email", [sub.pk, "emails/subscription_ended"], {}) in enqueued.calls
    assert token_charges() == 0


def test_turning_renewal_back_on_before_the_end_resumes_the_schedule(sub, customer, time_machine, mailoutbox):
    subscription_set_auto_renew(subscription_id=sub.pk, on=False, by=customer)
    subscription_set_auto_renew(subscription_id=sub.pk, on=True, by=customer)
    sub.refresh_from_db()
    assert sub.next_charge_at == sub.current_period_end - timedelta(hours=24)
    from django.utils import formats

    from subscriptions.tasks import subscription_email

    subscription_email(sub.pk, "emails/renewal_resumed")
    when = formats.date_format(timezone.localtime(sub.next_charge_at), "DATETIME_FORMAT")
    end = formats.date_format(timezone.localtime(sub.current_period_end), "DATETIME_FORMAT")
    assert f"On {when} (Almaty time) your saved card will be charged" in mailoutbox[-1].body  # the charge date
    assert f"which begin when the time you have paid for ends, on {end}" in mailoutbox[-1].body
    time_machine.move_to(sub.current_period_end - timedelta(hours=1), tick=False)
    assert renewals.renewals_run() == {"succeeded": 1}


def test_declines_follow_the_retry_schedule_then_lapse(
    customer, plan, documents, time_machine, enqueued, django_capture_on_commit_callbacks
):
    sub = subscribe(customer, plan, documents, card=sandbox.CARD_DECLINE_RENEWALS)
    end = sub.current_period_end
    time_machine.move_to(end - timedelta(hours=24), tick=False)
    first_try = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        assert renewals.renewals_run() == {"declined": 1}
    sub.refresh_from_db()
    assert sub.status == "past_due" and sub.next_charge_at == first_try + timedelta(days=1)
    schedule = [first_try + timedelta(days=d) for d in (1, 3, 5)]
    for i, due in enumerate(schedule):
        time_machine.move_to(due - timedelta(minutes=1), tick=False)
        assert renewals.renewals_run() == {}  # not yet
        time_machine.move_to(due, tick=False)
        with django_capture_on_commit_callbacks(execute=True):
            assert renewals.renewals_run() == {"declined": 1}
        sub.refresh_from_db()
        if i + 1 < len(schedule):
            assert sub.status == "past_due" and sub.next_charge_at == schedule[i + 1]
    assert sub.status == "ended" and sub.end_reason == "lapsed"
    assert token_charges() == 4
    assert RenewalAttempt.objects.filter(subscription=sub, status="declined").count() == 4
    assert enqueued.names().count("subscriptions.tasks.subscription_email") == 4  # 3 failures + lapse
    assert not AccessGrant.objects.filter(term__subscription=sub, status="granted").exists()


def test_a_past_due_customer_can_still_turn_renewal_off_after_the_term_and_is_not_charged_again(
    client, customer, plan, documents, time_machine, enqueued, django_capture_on_commit_callbacks, mailoutbox
):
    sub = subscribe(customer, plan, documents, card=sandbox.CARD_DECLINE_RENEWALS)
    time_machine.move_to(sub.current_period_end - timedelta(hours=24), tick=False)
    assert renewals.renewals_run() == {"declined": 1}
    time_machine.move_to(sub.current_period_end + timedelta(hours=2), tick=False)  # retries still to come
    client.force_login(customer)
    page = client.get(f"/account/subscriptions/{sub.pk}/renewal/?on=0").content.decode()
    assert "Turning renewal off ends the subscription now" in page
    # in another tab the customer opened the hosted page to pay with another card, typed
    # nothing: that does not hold the cancellation up (the gateway knows no such payment)
    paying = renewals.renewal_customer_payment(subscription=sub, token="tab", client_ip=None, user_agent="")
    from billing.services import payment_hosted_url

    payment_hosted_url(payment=paying)
    from subscriptions.services import checkout_in_flight

    assert checkout_in_flight(customer, purpose=renewals.PURPOSE_RENEWAL) is None
    # ... then submitted the card, and the bank is still deciding (3-D Secure): that does
    SandboxTransaction.objects.filter(invoice_id=str(paying.public_id)).update(status="processing")
    refused = client.post(f"/account/subscriptions/{sub.pk}/renewal/", {"on": "0"}, follow=True).content.decode()
    assert "being processed right now" in refused
    sub.refresh_from_db()
    assert sub.is_live and sub.auto_renew  # that payment must not be left buying nothing
    SandboxTransaction.objects.filter(invoice_id=str(paying.public_id)).update(status="declined")  # the bank: no
    enqueued.calls.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/account/subscriptions/{sub.pk}/renewal/", {"on": "0"}, follow=True)
    assert "the subscription has ended" in response.content.decode()
    assert "No further payment will be taken" in response.content.decode()
    sub.refresh_from_db()
    assert (sub.status, sub.end_reason, sub.auto_renew, sub.next_charge_at) == ("ended", "cancelled", False, None)
    assert enqueued.names().count("subscriptions.tasks.subscription_email") == 1
    enqueued.run("subscriptions.tasks.subscription_email")
    assert "its renewal payment did not go through" in mailoutbox[-1].body
    assert "automatic renewal was off" not in mailoutbox[-1].body  # it was on: the payment failed
    assert Event.objects.filter(verb="subscription.renewal_cancelled", subject_id=str(sub.pk)).exists()
    for days in (1, 3, 5, 7):
        time_machine.move_to(sub.current_period_end + timedelta(days=days), tick=False)
        assert renewals.renewals_run() == {}
    assert token_charges() == 1  # the first decline only
    # ended: nothing left to change
    assert "can no longer be changed" in client.post(f"/account/subscriptions/{sub.pk}/renewal/", {"on": "1"},
                                                     follow=True).content.decode()


def test_past_due_access_ends_at_term_end_without_grace(customer, plan, documents, time_machine, settings, enqueued):
    from subscriptions.services import access_provision

    sub = subscribe(customer, plan, documents, card=sandbox.CARD_DECLINE_RENEWALS)
    access_provision(grant_id=AccessGrant.objects.get(term__subscription=sub).pk)
    time_machine.move_to(sub.current_period_end - timedelta(hours=2), tick=False)
    renewals.renewals_run()
    assert entitlement(customer)["entitled"] is True  # still inside the paid term
    time_machine.move_to(sub.current_period_end + timedelta(hours=1), tick=False)
    assert entitlement(customer)["entitled"] is False
    settings.RENEWAL_GRACE_DAYS = 2
    assert entitlement(customer)["entitled"] is True
    # The grace in every channel alike (found by the dates review): the platform's "until", the
    # account page, and the failed-renewal e-mail's date.
    sub.refresh_from_db()
    assert entitlement(customer)["until"] == (sub.current_period_end + timedelta(days=2)).isoformat()
    client = Client()
    client.force_login(customer)
    account = client.get("/account/").content.decode()
    assert "Closed: the paid term is over" not in account and 'class="badge ok"' in account
    settings.RENEWAL_GRACE_DAYS = 0
    settings.SOLDEE_PAGE_CACHE = False  # a setting changed, not the customer's data
    assert "Closed: the paid term is over" in client.get("/account/").content.decode()


def test_a_crash_after_the_gateway_charged_is_resolved_by_reconciliation_with_one_charge(
    sub, time_machine, monkeypatch
):
    time_machine.move_to(sub.current_period_end - timedelta(hours=1), tick=False)
    ids = renewals.renewals_claim()
    # the worker dies right after the gateway call: the result is never applied
    monkeypatch.setattr(renewals.billing, "payments_settle", lambda **kw: (_ for _ in ()).throw(SystemExit))
    with pytest.raises(SystemExit):
        renewals.renewals_charge(ids)
    monkeypatch.undo()
    payment = RenewalAttempt.objects.get(pk=ids[0]).payment
    payment.refresh_from_db()
    assert payment.status == Payment.Status.PROCESSING and token_charges() == 1
    assert renewals.renewals_run() == {}  # in flight: never claimed again
    assert renewals.renewals_reconcile() == {}  # too fresh to reconcile
    time_machine.move_to(timezone.now() + timedelta(minutes=6), tick=False)
    assert renewals.renewals_reconcile() == {"approved": 1}
    payment.refresh_from_db()
    assert payment.status == Payment.Status.SUCCEEDED and token_charges() == 1
    assert Term.objects.filter(subscription=sub).count() == 2


def test_a_claim_that_never_reached_the_gateway_is_charged_once_by_reconciliation(sub, time_machine):
    time_machine.move_to(sub.current_period_end - timedelta(hours=1), tick=False)
    ids = renewals.renewals_claim()  # crash before the gateway call
    assert token_charges() == 0
    time_machine.move_to(timezone.now() + timedelta(minutes=6), tick=False)
    renewals.renewals_reconcile()
    renewals.renewals_reconcile()
    assert token_charges() == 1
    assert RenewalAttempt.objects.get(pk=ids[0]).status == "succeeded"


def test_a_new_offer_version_is_accepted_by_continued_use_at_renewal(sub, customer, time_machine):
    from offer.services import document_publish

    time_machine.move_to(sub.current_period_end - timedelta(days=5), tick=False)
    new = LegalDocument.objects.create(kind="offer", label="amended", title="Public Offer", body="Amended offer",
                                       effective_date=timezone.localdate())
    document_publish(document_id=new.pk)
    time_machine.move_to(sub.current_period_end - timedelta(hours=1), tick=False)
    renewals.renewals_run()
    acceptance = Acceptance.objects.get(kind="continued_use")
    assert acceptance.offer_document == new
    assert acceptance.payment == Term.objects.get(subscription=sub, number=2).payment
    event = Event.objects.get(subject_type="offer.acceptance", subject_id=str(acceptance.pk))
    assert event.verb == "offer.amendment_accepted"  # the history does not say "concluded by payment"
    from offer.agreement_copies import render_agreement_html

    first = Acceptance.objects.get(kind="payment")
    html = render_agreement_html(acceptance, language="en")
    assert "accepted the amended Public Offer, version amended, by continued use" in html
    assert "The agreement itself was concluded on" in html and first.payment_reference in html
    assert "by the Customer&#x27;s acceptance, through payment" not in html
    # the next renewal, same version: nothing new to accept
    sub.refresh_from_db()
    time_machine.move_to(sub.current_period_end - timedelta(hours=1), tick=False)
    renewals.renewals_run()
    assert Acceptance.objects.filter(kind="continued_use").count() == 1


def test_a_new_privacy_policy_or_terms_of_use_is_accepted_by_continued_use_at_renewal(sub, customer, time_machine):
    """Clause 2.4: acceptance covers the Privacy Policy and the Terms of Use too; a renewal
    after either changed records them as accepted by continued use, as for the Offer."""
    from offer.agreement_copies import render_agreement_html
    from offer.services import document_publish

    time_machine.move_to(sub.current_period_end - timedelta(days=5), tick=False)
    policy = LegalDocument.objects.create(kind="privacy", label="policy-2", title="Privacy Policy",
                                          body="Amended policy", effective_date=timezone.localdate())
    document_publish(document_id=policy.pk)
    time_machine.move_to(sub.current_period_end - timedelta(hours=1), tick=False)
    renewals.renewals_run()
    acceptance = Acceptance.objects.get(kind="continued_use")
    assert acceptance.payment == Term.objects.get(subscription=sub, number=2).payment
    assert policy.pk in set(acceptance.accepted_documents.values_list("document_id", flat=True))
    html = render_agreement_html(acceptance, language="en")
    assert "accepted the amended Privacy Policy, version policy-2, by continued use" in html
    assert "amended Public Offer" not in html  # the Offer itself did not change
    sub.refresh_from_db()
    time_machine.move_to(sub.current_period_end - timedelta(hours=1), tick=False)
    renewals.renewals_run()  # nothing changed since: nothing new to accept
    assert Acceptance.objects.filter(kind="continued_use").count() == 1


def test_the_reminder_is_sent_once_per_term(sub, time_machine):
    time_machine.move_to(sub.next_charge_at - timedelta(days=4), tick=False)
    assert renewals.reminders_due() == []
    time_machine.move_to(sub.next_charge_at - timedelta(days=3) + timedelta(minutes=1), tick=False)
    assert renewals.reminders_due() == [(sub.pk, sub.current_period_end)]
    assert renewals.reminders_due() == []


def test_a_reminder_that_reaches_the_worker_after_the_charge_is_not_sent(sub, time_machine, mailoutbox, enqueued):
    """Found by the explorer (test clock): a reminder task run after its term was renewed
    announced the next charge — "we will charge … on <the date after>" — right after the
    receipt. It names the term it was claimed for and is dropped once that term moved on."""
    from subscriptions.tasks import renewal_reminder_sweep

    time_machine.move_to(sub.next_charge_at - timedelta(days=2), tick=False)
    assert renewal_reminder_sweep() == 1
    time_machine.move_to(sub.current_period_end - timedelta(hours=1), tick=False)
    assert renewals.renewals_run() == {"succeeded": 1}
    sent = len(mailoutbox)
    enqueued.run("subscriptions.tasks.subscription_email")
    assert len(mailoutbox) == sent  # the late reminder is not sent
    # On time, it is.
    sub.refresh_from_db()
    time_machine.move_to(sub.next_charge_at - timedelta(days=2), tick=False)
    assert renewal_reminder_sweep() == 1
    enqueued.run("subscriptions.tasks.subscription_email")
    assert len(mailoutbox) == sent + 1 and "we will charge" in mailoutbox[-1].body


def test_a_price_raised_after_the_reminder_applies_from_the_term_after(sub, plan, time_machine, mailoutbox):
    from soldee.money import format_money
    from subscriptions.tasks import subscription_email

    old = plan.price_minor
    time_machine.move_to(sub.next_charge_at - timedelta(days=2), tick=False)
    assert renewals.reminders_due() == [(sub.pk, sub.current_period_end)]
    plan.price_minor = old + 500_000  # raised after the customer was told the amount
    plan.save()
    subscription_email(sub.pk, "emails/renewal_reminder")  # even a reminder sent after the change
    assert f"we will charge {format_money(old, 'KZT')}" in mailoutbox[-1].body
    assert "price has changed" not in mailoutbox[-1].body  # the same as the term in use
    time_machine.move_to(sub.current_period_end - timedelta(hours=1), tick=False)
    assert renewals.renewals_run() == {"succeeded": 1}
    assert Term.objects.get(subscription=sub, number=2).payment.amount_minor == old  # what the reminder said
    # the term after: a new reminder states the new price, which is charged
    sub.refresh_from_db()
    time_machine.move_to(sub.next_charge_at - timedelta(days=2), tick=False)
    assert renewals.reminders_due() == [(sub.pk, sub.current_period_end)]
    subscription_email(sub.pk, "emails/renewal_reminder")
    assert f"we will charge {format_money(old + 500_000, 'KZT')}" in mailoutbox[-1].body
    assert (f"The plan's price has changed: your last term cost {format_money(old, 'KZT')}, the next costs "
            f"{format_money(old + 500_000, 'KZT')}.") in mailoutbox[-1].body
    type(sub.customer).objects.filter(pk=sub.customer_id).update(language="ru")
    subscription_email(sub.pk, "emails/renewal_reminder")  # both amounts written the Russian way
    ru_old, ru_new = (format_money(v, "KZT", language="ru") for v in (old, old + 500_000))
    assert f"прошлый срок стоил {ru_old}, следующий стоит {ru_new}" in mailoutbox[-1].body
    time_machine.move_to(sub.current_period_end - timedelta(hours=1), tick=False)
    renewals.renewals_run()
    assert Term.objects.get(subscription=sub, number=3).payment.amount_minor == old + 500_000


def test_a_price_lowered_after_the_reminder_is_charged_lowered(sub, plan, time_machine):
    time_machine.move_to(sub.next_charge_at - timedelta(days=2), tick=False)
    assert renewals.reminders_due() == [(sub.pk, sub.current_period_end)]
    plan.price_minor -= 500_000
    plan.save()
    time_machine.move_to(sub.current_period_end - timedelta(hours=1), tick=False)
    renewals.renewals_run()
    assert Term.objects.get(subscription=sub, number=2).payment.amount_minor == plan.price_minor


def test_a_past_due_customer_pays_with_another_card_which_replaces_the_saved_one(
    client, customer, plan, documents, time_machine
):
    sub = subscribe(customer, plan, documents, card=sandbox.CARD_DECLINE_RENEWALS)
    time_machine.move_to(sub.current_period_end - timedelta(hours=1), tick=False)
    renewals.renewals_run()
    client.force_login(customer)
    page = client.get(f"/account/subscriptions/{sub.pk}/pay/")
    assert 'class="price-kzt">₸29,900<' in page.content.decode()
    response = client.post(f"/account/subscriptions/{sub.pk}/pay/", {"token": page.context["token"]})
    assert "/billing/sandbox-gateway/pay/" in response["Location"]
    payment = Payment.objects.get(purpose="subscription.renewal", method="card")
    pay_on_sandbox(payment, card=sandbox.CARD_APPROVE)
    client.get(f"/billing/payments/{payment.public_id}/return/")
    sub.refresh_from_db()
    assert sub.status == "active" and sub.failed_attempts == 0
    assert Term.objects.filter(subscription=sub).count() == 2
    active = PaymentMethod.objects.get(customer=customer, is_active=True)
    assert active.card_mask.endswith("4242")
    # the next automatic renewal uses the new card and succeeds
    time_machine.move_to(sub.current_period_end - timedelta(hours=1), tick=False)
    assert renewals.renewals_run() == {"succeeded": 1}


def test_a_non_residents_pay_page_shows_the_amount_in_their_currency(client, customer, plan, documents,
                                                                     time_machine):
    """The card is charged in dollars: the pay-with-another-card page says how many, at which
    rate, as checkout does. (Found by the customer explorer: it showed tenge only.)"""
    from decimal import Decimal

    from billing.models import ExchangeRate

    sub = subscribe(customer, plan, documents, card=sandbox.CARD_DECLINE_RENEWALS)
    customer.profile.is_resident, customer.profile.country, customer.profile.payment_currency = False, "US", "USD"
    customer.profile.save()
    time_machine.move_to(sub.current_period_end - timedelta(hours=1), tick=False)
    ExchangeRate.objects.create(currency="USD", rate_date=timezone.localdate(), kzt_per_unit=Decimal("500"),
                                source="nbk")
    renewals.renewals_run()
    sub.refresh_from_db()
    assert sub.status == Subscription.Status.PAST_DUE
    client.force_login(customer)
    page = client.get(f"/account/subscriptions/{sub.pk}/pay/").content.decode()
    assert "≈ $59.80" in page and "per 1 USD" in page


def test_two_payment_pages_for_one_past_due_renewal_charge_once(client, customer, plan, documents, time_machine):
    """Back, then "Pay" again, opened a second hosted page: the first one, opened and not
    paid, expires, and the gateway refuses paying it, so the term is charged once."""
    sub = subscribe(customer, plan, documents, card=sandbox.CARD_DECLINE_RENEWALS)
    time_machine.move_to(sub.current_period_end - timedelta(hours=1), tick=False)
    renewals.renewals_run()
    client.force_login(customer)
    first_token = client.get(f"/account/subscriptions/{sub.pk}/pay/").context["token"]
    client.post(f"/account/subscriptions/{sub.pk}/pay/", {"token": first_token})
    page_a = Payment.objects.get(purpose="subscription.renewal", method="card")
    second_token = client.get(f"/account/subscriptions/{sub.pk}/pay/").context["token"]
    client.post(f"/account/subscriptions/{sub.pk}/pay/", {"token": second_token})
    page_b = Payment.objects.filter(purpose="subscription.renewal", method="card").exclude(pk=page_a.pk).get()
    page_a.refresh_from_db()
    assert page_a.status == Payment.Status.EXPIRED
    pay_on_sandbox(page_b, card=sandbox.CARD_APPROVE)
    client.get(f"/billing/payments/{page_b.public_id}/return/")
    txn = pay_on_sandbox(page_a, card=sandbox.CARD_APPROVE)  # the old tab, paid after all
    assert txn.status == SandboxTransaction.Status.DECLINED and "expired" in txn.reason
    client.get(f"/billing/payments/{page_a.public_id}/return/")
    assert Payment.objects.filter(customer=customer, purpose="subscription.renewal", method="card",
                                  status=Payment.Status.SUCCEEDED).count() == 1
    assert Term.objects.filter(subscription=sub).count() == 2


def test_a_second_renewal_page_waits_while_the_first_payment_is_being_decided(
    client, customer, plan, documents, time_machine
):
    sub = subscribe(customer, plan, documents, card=sandbox.CARD_DECLINE_RENEWALS)
    time_machine.move_to(sub.current_period_end - timedelta(hours=1), tick=False)
    renewals.renewals_run()
    client.force_login(customer)
    client.post(f"/account/subscriptions/{sub.pk}/pay/",
                {"token": client.get(f"/account/subscriptions/{sub.pk}/pay/").context["token"]})
    first = Payment.objects.get(purpose="subscription.renewal", method="card")
    pay_on_sandbox(first, card=sandbox.CARD_DELAYED)  # 3-D Secure: the bank still deciding
    response = client.post(f"/account/subscriptions/{sub.pk}/pay/",
                           {"token": client.get(f"/account/subscriptions/{sub.pk}/pay/").context["token"]},
                           follow=True)
    assert "still being processed by the bank" in response.content.decode()
    assert Payment.objects.filter(purpose="subscription.renewal", method="card").count() == 1


def test_a_declined_card_of_a_past_due_customer_offers_to_pay_the_renewal_again_in_their_language(
    client, customer, plan, documents, time_machine
):
    sub = subscribe(customer, plan, documents, card=sandbox.CARD_DECLINE_RENEWALS)
    time_machine.move_to(sub.current_period_end - timedelta(hours=1), tick=False)
    renewals.renewals_run()
    client.force_login(customer)
    client.cookies["django_language"] = "ru"
    page = client.get(f"/account/subscriptions/{sub.pk}/pay/")
    client.post(f"/account/subscriptions/{sub.pk}/pay/", {"token": page.context["token"]})
    payment = Payment.objects.get(purpose="subscription.renewal", method="card")
    pay_on_sandbox(payment, card=sandbox.CARD_DECLINE)
    html = client.get(f"/billing/payments/{payment.public_id}/return/").content.decode()
    assert f'href="/account/subscriptions/{sub.pk}/pay/"' in html  # not the checkout of a plan
    assert "/account/checkout/" not in html and "Недостаточно средств" in html
    assert "Insufficient funds" not in html
    payments = client.get("/account/payments/").content.decode()
    assert "Недостаточно средств" in payments and "Insufficient funds" not in payments


def test_an_abandoned_payment_page_of_a_past_due_customer_does_not_stop_the_retries(
    client, customer, plan, documents, time_machine, settings
):
    from billing.tasks import payment_expire_sweep

    sub = subscribe(customer, plan, documents, card=sandbox.CARD_DECLINE_RENEWALS)
    time_machine.move_to(sub.current_period_end - timedelta(hours=1), tick=False)
    renewals.renewals_run()  # declined: past due, retry tomorrow
    client.force_login(customer)
    page = client.get(f"/account/subscriptions/{sub.pk}/pay/")
    client.post(f"/account/subscriptions/{sub.pk}/pay/", {"token": page.context["token"]})
    own = RenewalAttempt.objects.get(subscription=sub, kind="customer")
    assert own.status == "charging"
    time_machine.move_to(timezone.now() + timedelta(hours=settings.CHECKOUT_PAYMENT_TTL_HOURS + 1), tick=False)
    assert payment_expire_sweep() == 1  # the customer never paid on the hosted page
    own.refresh_from_db()
    assert own.status == "declined"
    sub.refresh_from_db()
    assert sub.status == "past_due" and sub.failed_attempts == 1  # the customer's try moves nothing
    time_machine.move_to(sub.next_charge_at + timedelta(minutes=1), tick=False)
    assert renewals.renewals_run() == {"declined": 1}  # the automatic retry still happens
    sub.refresh_from_db()
    assert sub.failed_attempts == 2


def test_a_renewal_charged_for_a_subscription_that_ended_meanwhile_gets_a_refund_request(
    sub, time_machine, enqueued, mailoutbox, django_capture_on_commit_callbacks, monkeypatch
):
    """The charge was at the gateway while staff ended the subscription (ended before the
    call, it is not made at all): the money came for a subscription no longer live, the
    payment starts no term, staff are alerted and a refund request is opened for them to
    decide (refunds registers itself for unapplied payments)."""
    from django.db import transaction

    from refunds.models import RefundRequest
    from subscriptions.services import subscription_end

    time_machine.move_to(sub.current_period_end - timedelta(hours=1), tick=False)
    ids = renewals.renewals_claim()
    charge = renewals._gateway_charges

    def ended_during_the_call(attempts):
        answers = charge(attempts)
        with transaction.atomic():
            subscription_end(subscription_id=sub.pk, reason=Subscription.EndReason.CANCELLED)
        return answers

    monkeypatch.setattr(renewals, "_gateway_charges", ended_during_the_call)
    enqueued.calls.clear()
    with django_capture_on_commit_callbacks(execute=True):
        renewals.renewals_charge(ids)
    payment = RenewalAttempt.objects.get(pk=ids[0]).payment
    payment.refresh_from_db()
    assert payment.status == Payment.Status.SUCCEEDED and not Term.objects.filter(payment=payment).exists()
    assert Event.objects.filter(verb="payment.unapplied_renewal", subject_id=str(payment.pk)).exists()
    enqueued.run("soldee.tasks.staff_alert")
    assert any("bought nothing" in m.subject and f"Payment {payment.public_id} (" in m.body
               and sub.customer.email in m.body  # who and which payment, not an internal row id
               and f"renewal charge for subscription {sub.pk}, which is ended" in m.body for m in mailoutbox)
    with django_capture_on_commit_callbacks(execute=True):
        assert enqueued.run("refunds.tasks.refund_request_for_unapplied") == 1
    request = RefundRequest.objects.get(payment=payment)
    assert request.ground == RefundRequest.Ground.NO_ACCESS and request.eligible is True


def test_the_account_shows_the_running_term_and_access_while_the_next_term_is_paid_ahead(
    sub, customer, client, time_machine, django_capture_on_commit_callbacks, enqueued
):
    """A renewal is charged a day before the end: the account still shows the term running
    now and access granted, and the paid next term beside it — not "closed"."""
    import re

    from django.utils.formats import date_format

    from subscriptions.services import access_mark_granted

    def fmt(moment):
        return date_format(timezone.localtime(moment), "DATETIME_FORMAT")

    first = Term.objects.get(subscription=sub, number=1)
    access_mark_granted(grant_id=first.access_grant.pk, platform_ref="t")
    time_machine.move_to(first.ends_at - timedelta(hours=23), tick=False)
    with django_capture_on_commit_callbacks(execute=True):
        assert renewals.renewals_run() == {"succeeded": 1}
    second = Term.objects.get(subscription=sub, number=2)
    access_mark_granted(grant_id=second.access_grant.pk, platform_ref="t2")
    client.force_login(customer)

    def section(body, element_id):
        return re.search(rf'id="{element_id}">(.*?)</dd>', body, re.S).group(1)

    body = client.get("/account/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert section(body, "paid-term") == f"{fmt(first.starts_at)} — {fmt(first.ends_at)}"
    assert section(body, "next-term") == f"{fmt(second.starts_at)} — {fmt(second.ends_at)}"
    assert "Closed: the paid term is over" not in body and "Granted" in section(body, "access-status")

    time_machine.move_to(first.ends_at + timedelta(minutes=1), tick=False)
    body = client.get("/account/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert section(body, "paid-term") == f"{fmt(second.starts_at)} — {fmt(second.ends_at)}"
    assert 'id="next-term"' not in body and "Closed" not in body

    time_machine.move_to(second.ends_at + timedelta(minutes=1), tick=False)  # not renewed (no run)
    client.force_login(customer)  # the session of a month ago has expired
    body = client.get("/account/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Closed: the paid term is over" in body


def _retry_now(staff_admin, *subs):
    staff_admin.force_login(staff_admin.staff)  # now: the clock may have moved past a session's age
    data = {"action": "retry_now", "_selected_action": [s.pk for s in subs]}
    tries = RenewalAttempt.objects.filter(subscription__in=subs).count()
    asked = staff_admin.post("/admin/subscriptions/subscription/", data).content.decode()
    assert "Charge the saved cards now?" in asked  # a confirmation first: nothing charged yet
    assert RenewalAttempt.objects.filter(subscription__in=subs).count() == tries
    response = staff_admin.post("/admin/subscriptions/subscription/", {**data, "confirmed": "yes"}, follow=True)
    assert response.status_code == 200
    return [str(m) for m in response.context["messages"]]


def test_staff_retry_now_charges_only_the_selected_subscription(
        customer, other_customer, plan, documents, staff_admin, time_machine):
    failing = subscribe(customer, plan, documents, card=sandbox.CARD_DECLINE_RENEWALS)
    waiting = subscribe(other_customer, plan, documents)
    time_machine.move_to(max(failing.current_period_end, waiting.current_period_end) - timedelta(hours=2), tick=False)
    assert renewals.renewals_run(max_batches=0) == {}
    [message] = _retry_now(staff_admin, failing)  # both are due; staff picked one
    assert "declined (Insufficient funds). The customer is e-mailed; next automatic try on" in message
    assert not RenewalAttempt.objects.filter(subscription=waiting).exists()  # not charged from a staff click
    failing.refresh_from_db()
    assert failing.status == "past_due" and failing.failed_attempts == 1
    assert Event.objects.filter(verb="renewal.retry_requested", subject_id=str(failing.pk)).count() == 1
    assert renewals.renewals_run() == {"succeeded": 1}  # the sweep renews the other one
    assert Term.objects.filter(subscription=waiting, number=2).exists()


def test_the_retry_now_confirmation_says_which_rows_will_not_be_charged(
        customer, other_customer, plan, documents, staff_admin, time_machine):
    """Found by the staff explorer: every row read as if its card were to be charged."""
    due = subscribe(customer, plan, documents)
    early = subscribe(other_customer, plan, documents)
    time_machine.move_to(due.current_period_end - timedelta(hours=2), tick=False)
    Subscription.objects.filter(pk=early.pk).update(next_charge_at=timezone.now() + timedelta(days=3))
    staff_admin.force_login(staff_admin.staff)
    asked = staff_admin.post("/admin/subscriptions/subscription/", {
        "action": "retry_now", "_selected_action": [due.pk, early.pk]}).content.decode()
    assert asked.count("not charged: its renewal is not due yet.") == 1
    assert "no saved card" not in asked


def test_the_retry_now_confirmation_shows_a_non_residents_charge_in_their_currency_or_that_no_rate_allows_one(
        plan, documents, staff_admin, time_machine):
    """Found by staff: the page showed the KZT price to a customer charged in dollars."""
    from accounts.models import CustomerProfile
    from tests.exchange.exchange_helpers import make_rate
    from tests.factories import ProfileFactory

    make_rate("USD", timezone.localdate(), "500")
    customer = ProfileFactory(is_resident=False, country="US", payment_currency="USD", iin_bin="").user
    sub = subscribe(customer, plan, documents)
    time_machine.move_to(sub.current_period_end - timedelta(hours=2), tick=False)  # due; the rate is a month old
    staff_admin.force_login(staff_admin.staff)

    def asked():
        return staff_admin.post("/admin/subscriptions/subscription/", {
            "action": "retry_now", "_selected_action": [sub.pk]}).content.decode()

    page = asked()
    assert "not charged now: there is no National Bank rate for USD" in page and "₸29,900 · paid until" in page
    assert page.count("Active") == 1  # the row's label says the status; its note does not repeat it
    CustomerProfile.objects.filter(user=customer).update(payment_currency="KZT")
    assert "whose profile names no currency offered to non-residents (KZT)" in asked()
    CustomerProfile.objects.filter(user=customer).update(payment_currency="USD")
    make_rate("USD", timezone.localdate(), "400")
    page = asked()
    assert "$74.75 = ₸29,900 at 400.00 ₸ per 1 USD" in page and "not charged" not in page
    [message] = _retry_now(staff_admin, sub)
    assert "paid, $74.75;" in message  # what the page said is what was charged


def test_staff_retry_now_of_a_past_due_subscription_pays_the_next_term(
        sub, staff_admin, time_machine):
    time_machine.move_to(sub.current_period_end - timedelta(hours=20), tick=False)
    Subscription.objects.filter(pk=sub.pk).update(status="past_due", failed_attempts=1,
                                                   next_charge_at=timezone.now() + timedelta(days=1))
    [message] = _retry_now(staff_admin, sub)
    from soldee.money import format_money

    assert message == (f"#{sub.pk} {sub.customer} · {sub.plan}: paid, {format_money(sub.plan.price_minor, 'KZT')}; "
                       "the next term has started or starts at the end of the current one.")
    sub.refresh_from_db()
    assert sub.status == "active" and sub.failed_attempts == 0
    assert Term.objects.get(subscription=sub, number=2).payment.status == Payment.Status.SUCCEEDED


def test_extra_staff_tries_of_a_past_due_subscription_use_up_none_of_the_customers_retries(
        customer, plan, documents, staff_admin, time_machine, enqueued, django_capture_on_commit_callbacks):
    sub = subscribe(customer, plan, documents, card=sandbox.CARD_DECLINE_RENEWALS)
    time_machine.move_to(sub.current_period_end - timedelta(hours=20), tick=False)
    with django_capture_on_commit_callbacks(execute=True):
        assert renewals.renewals_run() == {"declined": 1}  # the scheduled charge: past due
    sub.refresh_from_db()
    schedule = sub.next_charge_at
    assert sub.status == "past_due" and sub.failed_attempts == 1
    enqueued.calls.clear()
    for _click in range(len(settings_retry_days()) + 1):  # more clicks than the customer has retries
        with django_capture_on_commit_callbacks(execute=True):
            [message] = _retry_now(staff_admin, sub)
        assert "An extra try: the customer's retry schedule is unchanged" in message
        sub.refresh_from_db()
        assert sub.status == "past_due" and sub.failed_attempts == 1 and sub.next_charge_at == schedule
    assert RenewalAttempt.objects.filter(subscription=sub, kind="staff", status="declined").count() == 4
    assert "subscriptions.tasks.subscription_email" not in enqueued.names()  # no e-mail per staff click
    assert not AccessGrant.objects.filter(customer=customer, status="revoked").exists()  # the paid term stays
    time_machine.move_to(schedule, tick=False)
    assert renewals.renewals_run() == {"declined": 1}  # the customer's own schedule goes on
    sub.refresh_from_db()
    assert sub.failed_attempts == 2


def settings_retry_days():
    from django.conf import settings

    return settings.RENEWAL_RETRY_DAYS


def test_staff_retry_now_refuses_a_subscription_paid_up_to_its_end(sub, staff_admin):
    [message] = _retry_now(staff_admin, sub)  # just bought: the charge is due in 29 days
    assert "Nothing to retry" in message
    assert not RenewalAttempt.objects.filter(subscription=sub).exists() and token_charges() == 0
    assert not Event.objects.filter(verb="renewal.retry_requested").exists()


def test_staff_retry_now_waits_while_a_charge_of_the_subscription_is_under_way(
        client, customer, plan, documents, staff_admin, time_machine):
    sub = subscribe(customer, plan, documents, card=sandbox.CARD_DECLINE_RENEWALS)
    time_machine.move_to(sub.current_period_end - timedelta(hours=1), tick=False)
    renewals.renewals_run()  # past due
    client.force_login(customer)  # the customer has the payment page open
    page = client.get(f"/account/subscriptions/{sub.pk}/pay/")
    client.post(f"/account/subscriptions/{sub.pk}/pay/", {"token": page.context["token"]})
    sub.refresh_from_db()
    before = sub.next_charge_at
    [message] = _retry_now(staff_admin, sub)
    assert "under way" in message
    sub.refresh_from_db()
    assert sub.next_charge_at == before and not Event.objects.filter(verb="renewal.retry_requested").exists()


def test_a_non_resident_sees_the_renewal_amount_in_their_currency(client, plan, documents, mailoutbox):
    from subscriptions.tasks import subscription_email
    from tests.exchange.exchange_helpers import make_rate
    from tests.factories import ProfileFactory

    make_rate("USD", timezone.localdate() - timedelta(days=1), "500")
    customer = ProfileFactory(is_resident=False, country="US", payment_currency="USD", iin_bin="").user
    sub = subscribe(customer, plan, documents)
    client.force_login(customer)
    renewal = client.get("/account/").content.decode()
    assert "$59.80" in renewal.split('id="next-renewal"')[1].split("</dd>")[0]  # 29 900 ₸ at 500 ₸ per 1 USD
    subscription_email(sub.pk, "emails/renewal_reminder")
    assert "At today's rate that is $59.80." in mailoutbox[-1].body


def test_reminders_sent_before_the_release_keep_their_price_after_it(sub, plan, other_customer, documents):
    """Migration 0008: a reminder already sent for this term is taken to have stated the
    plan's price at the release, so a raise right after it does not reach that renewal."""
    from importlib import import_module

    from django.apps import apps

    backfill = import_module("subscriptions.migrations.0008_backfill_reminded_price").backfill
    Subscription.objects.filter(pk=sub.pk).update(reminder_sent_for=sub.current_period_end, reminded_price_minor=None)
    other = subscribe(other_customer, plan, documents)  # no reminder yet
    backfill(apps, None)
    sub.refresh_from_db()
    other.refresh_from_db()
    assert sub.reminded_price_minor == plan.price_minor and other.reminded_price_minor is None
    plan.price_minor += 100_000
    plan.save()
    assert Subscription.objects.select_related("plan").get(pk=sub.pk).renewal_price_minor == plan.price_minor - 100_000


def test_our_own_charge_holds_a_cancellation_up_for_an_hour_at_most(customer, plan, documents, time_machine):
    sub = subscribe(customer, plan, documents, card=sandbox.CARD_DECLINE_RENEWALS)
    time_machine.move_to(sub.current_period_end - timedelta(hours=1), tick=False)
    [attempt_id] = renewals.renewals_claim()  # claimed, the gateway's answer never applied
    RenewalAttempt.objects.filter(pk=attempt_id).update(status=RenewalAttempt.Status.UNKNOWN)
    assert renewals.renewal_in_flight(sub)
    time_machine.move_to(timezone.now() + timedelta(minutes=61), tick=False)
    assert not renewals.renewal_in_flight(sub)  # the gateway still silent: it no longer blocks anything


def test_renewal_turned_off_after_the_claim_is_not_charged(client, customer, plan, documents, time_machine):
    """Clause 6.4: renewed 'unless cancelled'. Claimed a minute before the customer turned
    renewal off, the charge is not made, and nothing goes past due."""
    sub = subscribe(customer, plan, documents)
    time_machine.move_to(sub.current_period_end - timedelta(hours=23), tick=False)
    ids = renewals.renewals_claim()
    subscription_set_auto_renew(subscription_id=sub.pk, on=False, by=customer)
    assert renewals.renewals_charge(ids) == {"declined": 1}
    assert token_charges() == 0
    sub.refresh_from_db()
    assert (sub.status, sub.auto_renew, sub.failed_attempts) == ("active", False, 0)
    client.force_login(customer)
    section = client.get("/account/").content.decode().split('id="payments"')[1].split("</section>")[0]
    assert "Declined" not in section  # no card was asked


def test_a_charge_left_for_reconciliation_is_not_made_once_the_customer_has_cancelled(
        customer, plan, documents, time_machine):
    sub = subscribe(customer, plan, documents, card=sandbox.CARD_DECLINE_RENEWALS)
    time_machine.move_to(sub.current_period_end - timedelta(hours=24), tick=False)
    renewals.renewals_run()  # declined: past due
    sub.refresh_from_db()
    time_machine.move_to(sub.next_charge_at, tick=False)  # the first retry, after the term's end
    renewals.renewals_claim()  # ... and the worker dies before the gateway call
    time_machine.move_to(timezone.now() + timedelta(minutes=61), tick=False)
    subscription_set_auto_renew(subscription_id=sub.pk, on=False, by=customer)  # no longer held up
    charges_before = token_charges()
    renewals.renewals_reconcile()  # the gateway never saw it: it would charge with the same key
    assert token_charges() == charges_before  # the customer who cancelled is not charged
    assert not Payment.objects.filter(customer=customer, purpose="subscription.renewal", status="succeeded").exists()


def test_a_refused_staff_renewal_change_is_not_followed_by_done(sub, staff_admin):
    from django.db import transaction

    from subscriptions.services import subscription_end

    with transaction.atomic():
        subscription_end(subscription_id=sub.pk, reason=Subscription.EndReason.CANCELLED)
    response = staff_admin.post("/admin/subscriptions/subscription/",
                                {"action": "renewal_on", "_selected_action": [sub.pk], "confirmed": "yes",
                                 "reason": "Customer's e-mail of 29.11"}, follow=True)
    texts = [str(m) for m in response.context["messages"]]
    assert any("renewal can no longer be changed" in t for t in texts)
    assert not any("changed for" in t or t == "Done." for t in texts)


def test_staff_are_told_that_renewal_off_ends_a_past_due_subscription_now(customer, plan, documents, staff_admin,
                                                                           time_machine):
    """Past due after its paid term: turning renewal off ends it at once; the confirmation
    says so before staff apply it. (Found by the staff explorer.)"""
    sub = subscribe(customer, plan, documents, card=sandbox.CARD_DECLINE_RENEWALS)
    time_machine.move_to(sub.current_period_end - timedelta(hours=1), tick=False)
    renewals.renewals_run()
    time_machine.move_to(sub.current_period_end + timedelta(hours=2), tick=False)
    staff_admin.force_login(staff_admin.staff)
    page = staff_admin.post("/admin/subscriptions/subscription/",
                            {"action": "renewal_off", "_selected_action": [sub.pk]}).content.decode()
    assert "the subscription ends NOW" in page


def test_staff_change_renewal_only_with_the_customers_request_recorded(sub, staff, staff_admin, customer):
    """Renewal on charges the customer's card: staff act only on the customer's request, and
    say when and how it came; the reason is kept with the event (not e-mailed)."""
    url = "/admin/subscriptions/subscription/"
    data = {"action": "renewal_off", "_selected_action": [sub.pk]}
    page = staff_admin.post(url, data).content.decode()
    assert "How and when the customer asked for it" in page and "Only at the customer&#x27;s own request" in page
    assert Subscription.objects.get(pk=sub.pk).auto_renew  # asked, not done
    again = staff_admin.post(url, {**data, "confirmed": "yes", "reason": "  "}).content.decode()
    assert "This field is required" in again and Subscription.objects.get(pk=sub.pk).auto_renew
    staff_admin.post(url, {**data, "confirmed": "yes", "reason": "Customer's e-mail of 29.11.2026"}, follow=True)
    assert not Subscription.objects.get(pk=sub.pk).auto_renew
    event = Event.objects.filter(verb="subscription.renewal_cancelled").latest("pk")
    assert event.actor == staff and event.data["reason"] == "Customer's e-mail of 29.11.2026"
    staff_admin.post(url, {"action": "renewal_on", "_selected_action": [sub.pk], "confirmed": "yes",
                           "reason": "Phone call, 30.11.2026 10:00"}, follow=True)
    assert Subscription.objects.get(pk=sub.pk).auto_renew
    assert Event.objects.filter(verb="subscription.renewal_resumed").latest("pk").data["reason"] == \
        "Phone call, 30.11.2026 10:00"
    # The service itself refuses a staff change without a reason; the customer needs none.
    with pytest.raises(CheckoutRefused, match="Give the reason"):
        subscription_set_auto_renew(subscription_id=sub.pk, on=False, by=staff)
    subscription_set_auto_renew(subscription_id=sub.pk, on=False, by=customer)
    assert "reason" not in Event.objects.filter(verb="subscription.renewal_cancelled").latest("pk").data


def test_an_old_renewal_link_of_an_ended_subscription_says_it_ended(client, customer, sub):
    from django.db import transaction

    from subscriptions.services import subscription_end

    with transaction.atomic():
        subscription_end(subscription_id=sub.pk, reason=Subscription.EndReason.LAPSED)
    client.force_login(customer)
    response = client.get(f"/account/subscriptions/{sub.pk}/renewal/?on=1", follow=True)
    page = response.content.decode()
    assert response.redirect_chain[-1][0] == "/account/" and "renewal can no longer be changed" in page
    assert "will renew on" not in page


def test_staff_retry_now_refuses_a_customer_who_withdrew_consent_saying_why(
        customer, plan, documents, staff_admin, time_machine):
    """Renewal left on with consent withdrawn: the claim skips such a customer (and turns
    renewal off), so "retry now" said 'a charge is under way, or no exchange rate'. It is
    refused before anything is recorded, with the reason, and the confirmation says so."""
    from django.test import RequestFactory

    from accounts.models import PersonalDataConsent
    from accounts.services import consent_record

    consent_record(user=customer, request=RequestFactory().post("/accounts/signup/", REMOTE_ADDR="10.9.8.7"))
    sub = subscribe(customer, plan, documents)
    PersonalDataConsent.objects.filter(user=customer).update(withdrawn_at=timezone.now())  # renewal left on
    time_machine.move_to(sub.current_period_end - timedelta(hours=2), tick=False)  # due
    staff_admin.force_login(staff_admin.staff)
    asked = staff_admin.post("/admin/subscriptions/subscription/", {
        "action": "retry_now", "_selected_action": [sub.pk]}).content.decode()
    assert "not charged: the customer has withdrawn consent to the processing of personal data." in asked
    [message] = _retry_now(staff_admin, sub)
    assert message.startswith(f"#{sub.pk} ") and "has withdrawn consent to the processing of personal data" in message
    assert "under way" not in message and "exchange rate" not in message
    assert not RenewalAttempt.objects.filter(subscription=sub).exists() and token_charges() == 0
    assert not Event.objects.filter(verb="renewal.retry_requested").exists()
    sub.refresh_from_db()
    assert sub.auto_renew and sub.next_charge_at is not None  # untouched: the sweep turns it off
