"""End to end in Chromium: log in, buy the Start plan through the sandbox gateway's
hosted page, see the subscription in the personal account, manage renewal; and a
declined card. No Celery worker runs: the return page settles the payment itself
(the redirect can come before the notification), and the tests run the queued tasks
(access grant, receipt, the gateway's notification) by hand, as a worker would."""

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import formats, timezone, translation
from playwright.sync_api import expect

from billing.models import Payment
from offer.models import Acceptance
from offer.services import documents_in_force, seed_initial_documents
from plans.models import Plan
from subscriptions.models import AccessGrant, Subscription
from tests.factories import ProfileFactory

pytestmark = pytest.mark.browser

PASSWORD = "correct-horse-battery-9"
PRICE = "₸29,900"


@pytest.fixture
def buyer(transactional_db):
    seed_initial_documents()
    Plan.objects.create(code="start", name="Start", price_minor=2_990_000)
    return ProfileFactory().user


def shown(dt) -> str:
    """A datetime as the English pages show it (Almaty time, DATETIME_FORMAT)."""
    with translation.override("en"):
        return formats.date_format(timezone.localtime(dt), "DATETIME_FORMAT")


def log_in(page, site, user):
    page.goto(site.url + "/")
    english = page.locator(".lang-switch button[value=en]")
    if english.get_attribute("aria-current") != "true":
        english.click()
    page.get_by_role("link", name="Log in").click()
    page.locator("input[name=login]").fill(user.email)
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("main form button[type=submit]").click()
    expect(page).to_have_url(site.url + "/account/")
    expect(page.get_by_role("button", name="Log out")).to_be_visible()


def review_and_pay(page, site, shot):
    """Pricing → Choose Start → review → accept → Pay: ends on the sandbox page."""
    page.get_by_role("link", name="Plans", exact=True).click()
    page.get_by_role("link", name="Choose Start").click()
    expect(page).to_have_url(site.url + "/account/checkout/start/")
    expect(page.get_by_role("heading", name="Review your purchase")).to_be_visible()
    # The two cards side by side line up (a margin meant for stacked cards pushed the second down).
    tops = page.locator(".grid2 > .card").evaluate_all("cards => cards.map(c => c.getBoundingClientRect().top)")
    assert len(tops) == 2 and abs(tops[0] - tops[1]) < 1, tops
    expect(page.locator("dd.price")).to_have_text(PRICE)
    for doc in documents_in_force().values():
        link = page.get_by_role("link", name=doc.get_kind_display(), exact=True).first
        expect(link).to_have_attribute("href", doc.get_absolute_url())
    expect(page.locator("main ul li a[href^='/legal/']")).to_have_count(3)
    shot(page, "review")

    pay = page.get_by_role("button", name=f"Pay {PRICE}")
    page.locator("input[name=accept]").check()
    pay.click()
    expect(page).to_have_url(re.compile(re.escape(site.url) + r"/billing/sandbox-gateway/pay/[0-9a-f-]+/$"))
    expect(page.get_by_text("SANDBOX PAYMENT GATEWAY")).to_be_visible()
    expect(page.get_by_role("heading", name="Test cards")).to_be_visible()
    expect(page.locator("code", has_text="4242424242424242")).to_be_visible()
    expect(page.locator("code", has_text="4000000000000002")).to_be_visible()
    expect(page.get_by_role("heading", name=f"Pay {PRICE}")).to_be_visible()
    shot(page, "sandbox-page")


def pay_with(page, card: str):
    page.locator("input[name=card_number]").fill(card)
    page.locator("#sandbox-pay").click()


def test_purchase_journey(page, site, buyer, shot, task_queue):
    log_in(page, site, buyer)
    shot(page, "logged-in")
    review_and_pay(page, site, shot)
    pay_with(page, "4242 4242 4242 4242")

    payment = Payment.objects.get(customer=buyer)
    expect(page).to_have_url(f"{site.url}/billing/payments/{payment.public_id}/return/")
    expect(page.get_by_role("heading", name="Thank you, your payment is received")).to_be_visible()
    expect(page.locator("main")).to_contain_text(f"We received {PRICE}")
    shot(page, "return-paid")

    page.get_by_role("link", name="Go to your personal account").click()
    subscription = Subscription.objects.get(customer=buyer)
    section = page.locator("#subscription")
    expect(section.locator("dd").first).to_have_text("Start")
    expect(section.locator(".badge.ok").first).to_have_text("Active")
    start, end = subscription.current_period_start, subscription.current_period_end
    expect(section).to_contain_text(f"{shown(start)} — {shown(end)}")
    expect(page.locator("#next-renewal")).to_contain_text(f"{shown(end)}, {PRICE}")
    expect(page.locator("#next-renewal")).to_contain_text(f"the saved card is charged from {shown(end - timedelta(hours=24))}")
    expect(page.locator("#access-status")).to_contain_text("Being set up")
    agreement = page.locator("#acceptances tbody tr")
    expect(agreement).to_have_count(1)
    for name in ("Public Offer", "Privacy Policy", "Terms of Use"):
        expect(agreement).to_contain_text(f"{name} 2025-11-01")
    expect(agreement).to_contain_text("Start")
    expect(page.locator("#payments tbody tr")).to_have_count(1)
    expect(page.locator("#payments tbody tr")).to_contain_text(PRICE)
    expect(page.locator("#payments tbody tr")).to_contain_text("4242")
    shot(page, "account-active")

    # The worker's share: access (it was queued on payment), the receipt, and the
    # gateway's own notification, which arrives after the return page settled it.
    queued = task_queue.names()
    assert "subscriptions.tasks.access_grant" in queued
    assert "billing.tasks.receipt_email" in queued
    assert "billing.tasks.sandbox_notify" in queued
    assert task_queue.run("subscriptions.tasks.access_grant") == 1
    assert task_queue.run("billing.tasks.receipt_email") == 1
    assert task_queue.run("billing.tasks.sandbox_notify") == 1
    page.reload()
    expect(page.locator("#access-status .badge")).to_have_text("Granted")
    shot(page, "access-granted")
    grant = AccessGrant.objects.get(customer=buyer)
    assert grant.status == AccessGrant.Status.GRANTED and grant.granted_on_time

    # Automatic renewal off, through the confirmation page, and on again.
    page.locator("#renewal-off").click()
    expect(page.get_by_role("heading", name="Turn automatic renewal off?")).to_be_visible()
    expect(page.locator("main")).to_contain_text(f"Your access continues until {shown(end)}")
    shot(page, "renewal-off-confirm")
    page.locator("#confirm-renewal").click()
    expect(page).to_have_url(site.url + "/account/")
    expect(page.get_by_text("Automatic renewal is off.")).to_be_visible()
    expect(page.locator("#next-renewal")).to_have_text(f"Off: the subscription ends on {shown(end)}")
    subscription.refresh_from_db()
    assert subscription.auto_renew is False and subscription.status == Subscription.Status.ACTIVE
    shot(page, "renewal-off")

    page.locator("#renewal-on").click()
    expect(page.get_by_role("heading", name="Turn automatic renewal back on?")).to_be_visible()
    page.locator("#confirm-renewal").click()
    expect(page.get_by_text("Automatic renewal is on again.")).to_be_visible()
    expect(page.locator("#next-renewal")).to_contain_text(f"{shown(end)}, {PRICE}")
    expect(page.locator("#next-renewal")).to_contain_text(f"the saved card is charged from {shown(end - timedelta(hours=24))}")
    expect(page.locator("#renewal-off")).to_be_visible()
    subscription.refresh_from_db()
    assert subscription.auto_renew is True
    shot(page, "renewal-on")

    # The database: one of each, whatever came first (return page or notification).
    payment.refresh_from_db()
    assert Payment.objects.filter(customer=buyer).count() == 1
    assert payment.status == Payment.Status.SUCCEEDED and payment.amount_minor == 2_990_000
    acceptance = Acceptance.objects.get(customer=buyer)
    assert acceptance.payment_id == payment.pk
    assert acceptance.accepted_documents.count() == 3
    assert {ad.document_id for ad in acceptance.accepted_documents.all()} == {
        d.pk for d in documents_in_force().values()}
    assert Subscription.objects.filter(customer=buyer).count() == 1
    assert subscription.status == Subscription.Status.ACTIVE
    assert subscription.current_period_end - subscription.current_period_start == timedelta(days=30)
    assert subscription.current_period_start == payment.paid_at
    receipts = [m for m in mail.outbox if "received" in m.subject]
    assert len(receipts) == 1
    assert receipts[0].to == [buyer.email] and PRICE in receipts[0].subject


def test_declined_card(page, site, buyer, shot, task_queue):
    log_in(page, site, buyer)
    review_and_pay(page, site, shot)
    pay_with(page, "4000 0000 0000 0002")

    payment = Payment.objects.get(customer=buyer)
    expect(page).to_have_url(f"{site.url}/billing/payments/{payment.public_id}/return/")
    expect(page.get_by_role("heading", name="The payment did not go through")).to_be_visible()
    expect(page.locator(".msg.error")).to_have_text("The bank declined the payment: Insufficient funds.")
    expect(page.locator("main")).to_contain_text("No money was taken and no agreement was concluded.")
    shot(page, "return-declined")

    payment.refresh_from_db()
    assert payment.status == Payment.Status.FAILED
    assert not Acceptance.objects.filter(customer=buyer).exists()
    assert not Subscription.objects.filter(customer=buyer).exists()
    assert not AccessGrant.objects.filter(customer=buyer).exists()
    # The gateway's late notification changes nothing.
    assert task_queue.run("billing.tasks.sandbox_notify") == 1
    assert not Subscription.objects.filter(customer=buyer).exists()
    assert "billing.tasks.receipt_email" not in task_queue.names()

    page.get_by_role("link", name="Try again").click()
    expect(page).to_have_url(site.url + "/account/checkout/start/")
    expect(page.get_by_role("heading", name="Review your purchase")).to_be_visible()
    expect(page.locator("input[name=accept]")).not_to_be_checked()
    shot(page, "try-again")

    page.goto(site.url + "/account/")
    expect(page.locator("#subscription")).to_contain_text("You have no subscription yet.")
    expect(page.locator("#payments tbody tr")).to_contain_text("Insufficient funds")
    shot(page, "account-after-decline")
