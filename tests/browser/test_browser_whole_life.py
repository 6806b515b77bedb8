"""The whole life of a customer in Chromium, one step after another: sign up (with the
personal-data consent), verify the e-mail, fill the profile, buy Start with a card whose
later renewals are declined, receipt and agreement copy as PDFs, renewal off and on;
then staff move the customer's clock 30 days in the admin's test clock (another browser
context), the renewal charge is declined, the customer pays with another card, asks for
a refund, staff approve it in the admin, and the customer sees the refund.

No Celery worker runs: the test runs the queued tasks by hand, as a worker would."""

import re

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.core import mail
from playwright.sync_api import expect

from accounts.models import CustomerProfile, PersonalDataConsent
from billing.models import Payment
from offer.models import Acceptance
from offer.services import seed_initial_documents
from plans.models import Plan
from refunds.models import Refund, RefundRequest
from soldee.models import Event
from subscriptions.models import AccessGrant, RenewalAttempt, Subscription

pytestmark = pytest.mark.browser

EMAIL = "life.customer@example.kz"
STAFF_EMAIL = "life.staff@soldee.kz"
PASSWORD = "correct-horse-battery-9"
VALID_IIN = "900101300017"
PRICE = "₸29,900"
CARD_LATER_DECLINED = "4000 0000 0000 0341"
CARD_OK = "4242 4242 4242 4242"


@pytest.fixture
def world(transactional_db, settings):
    settings.SOLDEE_TEST_CLOCK_ENABLED = True
    settings.SOLDEE_STAFF_MFA_REQUIRED = False
    settings.RENEWAL_CHARGE_THREADS = 1
    seed_initial_documents()
    Plan.objects.create(code="start", name="Start", price_minor=2_990_000)
    staff = get_user_model().objects.create_superuser(email=STAFF_EMAIL, password=PASSWORD)
    EmailAddress.objects.create(user=staff, email=STAFF_EMAIL, verified=True, primary=True)
    return staff


def to_english(page):
    english = page.locator(".lang-switch button[value=en]")
    if english.get_attribute("aria-current") != "true":
        english.click()
    expect(page.locator("html")).to_have_attribute("lang", "en")


def pay_on_sandbox(page, card):
    expect(page.get_by_text("SANDBOX PAYMENT GATEWAY")).to_be_visible()
    page.locator("input[name=card_number]").fill(card)
    page.locator("#sandbox-pay").click()


def fetch_pdf(page, base, url) -> bytes:
    """GET the link with the page's cookies (the customer's session)."""
    response = page.request.get(url if url.startswith("http") else base + url)
    assert response.status == 200, (url, response.status)
    assert response.headers["content-type"] == "application/pdf"
    body = response.body()
    assert body.startswith(b"%PDF"), body[:40]
    return body


def run_all(task_queue, *names):
    return {name: task_queue.run(name) for name in names}


def test_whole_life(page, site, world, shot, task_queue, browser):
    staff_user = world
    # --- Sign up, in English -------------------------------------------------------
    page.goto(site.url + "/")
    to_english(page)
    shot(page, "home-en")
    page.get_by_role("link", name="Sign up").click()
    page.locator("input[name=email]").fill(EMAIL)
    page.locator("input[name=password1]").fill(PASSWORD)
    page.locator("input[name=password2]").fill(PASSWORD)
    page.locator("input[name=consent]").check()
    shot(page, "signup-filled")
    page.locator("main form button[type=submit]").click()
    expect(page.get_by_role("heading", name=re.compile("Verify Your Email Address", re.I))).to_be_visible()
    shot(page, "verification-sent")
    customer = get_user_model().objects.get(email=EMAIL)
    assert PersonalDataConsent.objects.filter(user=customer).count() == 1

    # --- E-mail verification -------------------------------------------------------
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [EMAIL]
    link = re.search(r"https?://\S+/accounts/confirm-email/\S+/", mail.outbox[0].body)
    assert link, mail.outbox[0].body
    page.goto(link.group(0))
    shot(page, "confirm-email")
    page.locator("main form button[type=submit]").click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    shot(page, "verified-logged-in")

    # --- Profile -------------------------------------------------------------------
    page.goto(site.url + "/profile/")
    expect(page.get_by_role("heading", name="Customer details")).to_be_visible()
    page.locator("input[name=kind][value=individual]").check()
    page.locator("input[name=name]").fill("Aigerim Nurlanova")
    page.locator("input[name=iin_bin]").fill(VALID_IIN)
    page.locator("textarea[name=address]").fill("Almaty, Abay ave. 10, apt. 5")
    page.locator("input[name=phone]").fill("+7 701 123 45 67")
    shot(page, "profile-filled")
    page.locator("main form button[type=submit]").click()
    expect(page).to_have_url(site.url + "/account/")
    expect(page.get_by_text("Your details are saved.")).to_be_visible()
    shot(page, "account-empty")
    assert CustomerProfile.objects.get(user=customer).iin_bin == VALID_IIN

    # --- Purchase: card 0341 (approved now, renewals declined later) -----------------
    page.get_by_role("link", name="Plans", exact=True).click()
    shot(page, "pricing")
    page.get_by_role("link", name="Choose Start").click()
    expect(page).to_have_url(site.url + "/account/checkout/start/")
    expect(page.get_by_role("heading", name="Review your purchase")).to_be_visible()
    page.locator("input[name=accept]").check()
    shot(page, "checkout-review")
    page.get_by_role("button", name=f"Pay {PRICE}").click()
    expect(page).to_have_url(re.compile(re.escape(site.url) + r"/billing/sandbox-gateway/pay/[0-9a-f-]+/$"))
    shot(page, "sandbox-first")
    pay_on_sandbox(page, CARD_LATER_DECLINED)
    first = Payment.objects.get(customer=customer)
    expect(page).to_have_url(f"{site.url}/billing/payments/{first.public_id}/return/")
    expect(page.get_by_role("heading", name="Thank you, your payment is received")).to_be_visible()
    shot(page, "return-paid")
    first.refresh_from_db()
    assert first.status == Payment.Status.SUCCEEDED and first.amount_minor == 2_990_000
    subscription = Subscription.objects.get(customer=customer)
    assert subscription.status == Subscription.Status.ACTIVE and subscription.auto_renew

    # The worker's share: access, receipt, the gateway's own notification.
    ran = run_all(task_queue, "subscriptions.tasks.access_grant", "billing.tasks.receipt_email",
                  "billing.tasks.sandbox_notify")
    assert ran["subscriptions.tasks.access_grant"] == 1 and ran["billing.tasks.receipt_email"] == 1
    assert AccessGrant.objects.get(customer=customer).status == AccessGrant.Status.GRANTED
    assert any(PRICE in m.subject and m.to == [EMAIL] for m in mail.outbox[1:])

    page.get_by_role("link", name="Go to your personal account").click()
    expect(page.locator("#subscription .badge.ok").first).to_have_text("Active")
    expect(page.locator("#access-status .badge")).to_have_text("Granted")
    rows = page.locator("#payments tbody tr")
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text("0341")
    receipt = rows.locator("a.payment-document").first
    expect(receipt).to_be_visible()
    shot(page, "account-active-receipt")
    # Before the worker renders it, the download says it is being prepared (no web request
    # renders a PDF) and sends nothing more; once rendered, it is the PDF.
    pending = page.request.get(site.url + receipt.get_attribute("href"))
    assert pending.status == 503 and pending.headers["retry-after"], pending.status
    assert task_queue.run("billing.document_tasks.document_render") >= 1
    fetch_pdf(page, site.url, receipt.get_attribute("href"))

    # --- Agreement paper copy ------------------------------------------------------
    acceptance = Acceptance.objects.get(customer=customer)
    copy = page.locator(f"#copy-{acceptance.pk}")
    copy.get_by_role("button", name="Order a paper copy by post").click()
    expect(page.get_by_text("Your paper copy of the agreement is ordered.")).to_be_visible()
    shot(page, "agreement-copy-requested")
    assert task_queue.run("offer.tasks.render_agreement_copy") == 1
    task_queue.run("offer.tasks.agreement_copy_ready_email")
    page.reload()
    download = page.locator(f"#copy-{acceptance.pk}").get_by_role("link", name="Download the agreement (PDF)")
    expect(download).to_be_visible()
    shot(page, "agreement-copy-ready")
    fetch_pdf(page, site.url, download.get_attribute("href"))

    # --- Renewal off, and on again -------------------------------------------------
    page.locator("#renewal-off").click()
    expect(page.get_by_role("heading", name="Turn automatic renewal off?")).to_be_visible()
    shot(page, "renewal-off-confirm")
    page.locator("#confirm-renewal").click()
    expect(page.get_by_text("Automatic renewal is off.")).to_be_visible()
    shot(page, "renewal-off")
    subscription.refresh_from_db()
    assert subscription.auto_renew is False and subscription.status == Subscription.Status.ACTIVE
    page.locator("#renewal-on").click()
    expect(page.get_by_role("heading", name="Turn automatic renewal back on?")).to_be_visible()
    shot(page, "renewal-on-confirm")
    page.locator("#confirm-renewal").click()
    expect(page.get_by_text("Automatic renewal is on again.")).to_be_visible()
    shot(page, "renewal-on")
    subscription.refresh_from_db()
    assert subscription.auto_renew is True

    # --- Staff: the test clock, in another browser context ---------------------------
    staff_context = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
    staff_context.set_default_timeout(30_000)
    staff_errors = []
    try:
        staff = staff_context.new_page()
        staff.on("pageerror", lambda exc: staff_errors.append(f"{staff.url}: {exc}"))
        staff.soldee_artifacts = page.soldee_artifacts

        def staff_shot(name):  # numbered in one sequence with the customer's screenshots
            staff.soldee_shots = page.soldee_shots
            shot(staff, "staff-" + name)
            page.soldee_shots = staff.soldee_shots

        staff.goto(site.url + "/")
        to_english(staff)
        # The admin's login page is the site's one login page.
        staff.goto(site.url + "/admin/test-clock/")
        staff.locator("input[name=login]").fill(STAFF_EMAIL)
        staff.locator("input[name=password]").fill(PASSWORD)
        staff_shot("login")
        staff.locator("main form button[type=submit]").click()
        expect(staff).to_have_url(site.url + "/admin/test-clock/")
        staff.locator("input[name=customer]").fill(EMAIL)
        staff.locator("input[name=amount]").fill("30")
        staff.locator("select[name=unit]").select_option("days")
        staff_shot("test-clock")
        staff.locator("#test-clock-form input[type=submit]").click()
        expect(staff).to_have_url(f"{site.url}/admin/test-clock/?customer={customer.pk}")
        expect(staff.locator(".messagelist .success")).to_contain_text("renewal charges declined: ")
        expect(staff.locator("#customer-state tr.sub-row")).to_have_attribute("data-status", "past_due")
        staff_shot("test-clock-advanced")

        subscription.refresh_from_db()
        assert subscription.status == Subscription.Status.PAST_DUE
        # The charge 24 h before the term end and the retry a day later: both declined.
        declined = list(RenewalAttempt.objects.filter(subscription=subscription).order_by("pk"))
        assert declined and subscription.failed_attempts == len(declined)
        assert {(a.kind, a.status) for a in declined} == {
            (RenewalAttempt.Kind.AUTOMATIC, RenewalAttempt.Status.DECLINED)}
        assert all(a.payment.status == Payment.Status.FAILED and a.payment.customer_id == customer.pk
                   for a in declined)
        task_queue.run("subscriptions.tasks.subscription_email")

        # --- The customer: past due, pays with another card -------------------------
        page.goto(site.url + "/account/")
        expect(page.locator("#past-due")).to_be_visible()
        expect(page.locator("#subscription .badge.warn").first).to_have_text("Past due")
        shot(page, "account-past-due")
        page.get_by_role("link", name="Pay with another card").click()
        expect(page.get_by_role("heading", name="Pay for the renewal with another card")).to_be_visible()
        shot(page, "renewal-pay")
        page.get_by_role("button", name="Go to the payment page").click()
        expect(page).to_have_url(re.compile(re.escape(site.url) + r"/billing/sandbox-gateway/pay/[0-9a-f-]+/$"))
        shot(page, "sandbox-renewal")
        pay_on_sandbox(page, CARD_OK)
        expect(page.get_by_role("heading", name="Thank you, your payment is received")).to_be_visible()
        shot(page, "return-renewal-paid")
        run_all(task_queue, "subscriptions.tasks.access_grant", "billing.tasks.receipt_email",
                "billing.tasks.sandbox_notify")

        subscription.refresh_from_db()
        assert subscription.status == Subscription.Status.ACTIVE
        attempts = list(RenewalAttempt.objects.filter(subscription=subscription).order_by("pk"))
        assert [(a.kind, a.status) for a in attempts] == [
            (RenewalAttempt.Kind.AUTOMATIC, RenewalAttempt.Status.DECLINED)] * len(declined) + [
            (RenewalAttempt.Kind.CUSTOMER, RenewalAttempt.Status.SUCCEEDED)]
        renewal = attempts[-1].payment
        assert renewal.status == Payment.Status.SUCCEEDED and renewal.amount_minor == 2_990_000
        assert Payment.objects.filter(customer=customer, status=Payment.Status.SUCCEEDED).count() == 2

        page.get_by_role("link", name="Go to your personal account").click()
        expect(page.locator("#past-due")).to_have_count(0)
        expect(page.locator("#subscription .badge.ok").first).to_have_text("Active")
        expect(page.locator("#payments tbody tr")).to_have_count(2 + len(declined))
        shot(page, "account-active-again")

        # --- Refund request ------------------------------------------------------------
        page.locator("#refunds-link").click()
        expect(page.get_by_role("heading", name="Refunds and error reports", level=1)).to_be_visible()
        shot(page, "refunds-index")
        refundable = page.locator("#refundable-payments tbody tr")
        expect(refundable).to_have_count(2)
        page.locator(f"#refundable-payments a[href='/refunds/payments/{renewal.public_id}/request/']").click()
        expect(page.get_by_role("heading", name="Request a refund")).to_be_visible()
        page.locator("input[name=ground][value=late]").check()
        page.locator("textarea[name=explanation]").fill("The agent did not answer for a day after I paid.")
        shot(page, "refund-request-form")
        page.get_by_role("button", name="Request the refund").click()
        expect(page.get_by_text("Your refund request is registered.")).to_be_visible()
        expect(page.locator("#request-status")).to_have_text("Under review")
        shot(page, "refund-requested")
        request = RefundRequest.objects.get(customer=customer)
        assert request.payment_id == renewal.pk and request.status == RefundRequest.Status.OPEN
        task_queue.run("refunds.tasks.customer_email")

        # --- Staff approve it through the admin action ------------------------------------
        staff.goto(site.url + "/admin/refunds/refundrequest/")
        staff_shot("refund-requests")
        staff.locator(f"input[name=_selected_action][value='{request.pk}']").check()
        staff.locator("select[name=action]").select_option("approve")
        staff.locator("button[name=index]").click()
        expect(staff.locator("input[name=apply]")).to_be_visible()
        staff.locator("textarea[name=reason]").fill("Approved as a goodwill gesture.")
        staff_shot("approve-form")
        staff.locator("input[name=apply]").click()
        expect(staff.locator(".messagelist .success")).to_contain_text(f"#{request.pk}: Approved, refund of {PRICE}")
        staff_shot("approved")
        assert not staff_errors, staff_errors
    finally:
        staff_context.close()

    request.refresh_from_db()
    assert request.status == RefundRequest.Status.APPROVED and request.decided_by == staff_user
    refund = Refund.objects.get(request=request)
    assert refund.status == Refund.Status.PENDING and refund.amount_minor == 2_990_000
    assert task_queue.run("refunds.tasks.refund_execute") == 1
    task_queue.run("refunds.tasks.customer_email")
    refund.refresh_from_db()
    assert refund.status == Refund.Status.SUCCEEDED
    renewal.refresh_from_db()
    assert renewal.refunded_minor == 2_990_000
    first.refresh_from_db()
    assert first.refunded_minor == 0

    # --- The customer sees the refund ----------------------------------------------
    page.goto(site.url + f"/refunds/requests/{request.pk}/")
    expect(page.locator("#request-status")).to_have_text("Approved")
    expect(page.locator("#refund-status")).to_contain_text(PRICE)
    shot(page, "refund-detail")
    page.goto(site.url + "/account/")
    # The refunded payment: its refund note (a PDF) is listed next to its receipt.
    refunded_row = page.locator("#payments tbody tr", has_text="4242")
    note = refunded_row.locator("a.payment-document", has_text="Refund note")
    expect(note).to_have_count(1)
    shot(page, "account-after-refund")
    task_queue.run("billing.document_tasks.document_render")  # the worker renders the refund note
    fetch_pdf(page, site.url, note.get_attribute("href"))
    # The refunded payment paid the current term: the subscription ends with it.
    expect(page.locator("#subscription")).to_contain_text("Ended")
    subscription.refresh_from_db()
    assert subscription.status == Subscription.Status.ENDED
    assert subscription.end_reason == Subscription.EndReason.REFUNDED
    assert Payment.objects.filter(customer=customer, status=Payment.Status.SUCCEEDED).count() == 2
    assert Refund.objects.filter(customer=customer).count() == 1
    assert Event.objects.filter(customer=customer, verb="test_clock.advanced").exists()
