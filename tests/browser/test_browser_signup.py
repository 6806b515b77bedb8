"""End to end in Chromium: sign up, verify the e-mail, fill the customer profile;
the legal pages a visitor reads before buying."""

import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from accounts.models import CustomerProfile, PersonalDataConsent
from offer.services import seed_initial_documents
from plans.models import Plan

pytestmark = pytest.mark.browser

EMAIL = "new.customer@example.kz"
PASSWORD = "correct-horse-battery-9"
VALID_IIN = "900101300017"
BAD_IIN = "123456789012"
TYPO_IIN = "900101300018"  # VALID_IIN with the last digit wrong


@pytest.fixture
def seeded(transactional_db):
    seed_initial_documents()
    Plan.objects.create(code="start", name="Start", price_minor=2_990_000)


def to_english(page):
    english = page.locator(".lang-switch button[value=en]")
    if english.get_attribute("aria-current") != "true":
        english.click()
    expect(page.locator("html")).to_have_attribute("lang", "en")


def test_signup_verify_profile(page, site, seeded, shot):
    page.goto(site.url + "/")
    # Start from Russian (the site's default language) and switch with the header buttons.
    page.locator(".lang-switch button[value=ru]").click()
    expect(page.locator("html")).to_have_attribute("lang", "ru")
    to_english(page)
    expect(page.get_by_role("heading", name="Soldee plans")).to_be_visible()
    expect(page.locator("[data-plan=start] .price")).to_have_text("₸29,900")
    shot(page, "pricing")

    page.get_by_role("link", name="Sign up").click()
    page.locator("input[name=email]").fill(EMAIL)
    page.locator("input[name=password1]").fill(PASSWORD)
    page.locator("input[name=password2]").fill(PASSWORD)
    # Without the consent the browser does not even send the form.
    consent = page.locator("input[name=consent]")
    expect(consent).to_have_attribute("required", "")
    page.locator("main form button[type=submit]").click()
    expect(page).to_have_url(site.url + "/accounts/signup/")
    assert consent.evaluate("el => el.validity.valueMissing")
    assert not mail.outbox
    expect(page.locator("main form")).to_contain_text("Privacy Policy")
    shot(page, "signup-without-consent")

    consent.check()
    shot(page, "signup-filled")
    page.locator("main form button[type=submit]").click()
    expect(page.get_by_role("heading", name=re.compile("Verify Your Email Address", re.I))).to_be_visible()
    shot(page, "verification-sent")

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [EMAIL]
    link = re.search(r"https?://\S+/accounts/confirm-email/\S+/", message.body)
    assert link, message.body
    assert PersonalDataConsent.objects.filter(user__email=EMAIL).count() == 1

    page.goto(link.group(0))
    expect(page.get_by_text(EMAIL).first).to_be_visible()
    shot(page, "confirm-email")
    page.locator("main form button[type=submit]").click()
    # Logged in: the header offers the personal account and logging out.
    expect(page.get_by_role("link", name="Personal account")).to_be_visible()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    shot(page, "logged-in")

    page.goto(site.url + "/profile/")
    expect(page.get_by_role("heading", name="Customer details")).to_be_visible()
    # A signatory acts for a legal entity: its fields show only when that is chosen.
    page.locator("input[name=kind][value=legal_entity]").check()
    expect(page.locator("#field-signatory_name")).to_be_visible()
    expect(page.locator("#field-signatory_basis")).to_be_visible()
    page.locator("input[name=kind][value=individual]").check()
    expect(page.locator("#field-signatory_name")).to_be_hidden()
    expect(page.locator("#field-signatory_basis")).to_be_hidden()
    page.locator("input[name=name]").fill("Aigerim Nurlanova")
    page.locator("input[name=iin_bin]").fill(BAD_IIN)
    page.locator("textarea[name=address]").fill("Almaty, Abay ave. 10, apt. 5")
    page.locator("input[name=phone]").fill("+7 701 123 45 67")
    page.locator("main form button[type=submit]").click()

    errors = page.locator("#field-iin_bin .errorlist")
    expect(errors).to_be_visible()
    expect(errors).not_to_be_empty()
    expect(page.get_by_text("Please correct the errors below.")).to_be_visible()
    # What was typed is kept.
    expect(page.locator("input[name=name]")).to_have_value("Aigerim Nurlanova")
    expect(page.locator("textarea[name=address]")).to_have_value("Almaty, Abay ave. 10, apt. 5")
    expect(page.locator("input[name=phone]")).to_have_value("+7 701 123 45 67")
    expect(page.locator("input[name=kind][value=individual]")).to_be_checked()
    expect(page.locator("input[name=iin_bin]")).to_have_value(BAD_IIN)
    assert not CustomerProfile.objects.exists()
    shot(page, "profile-invalid-iin")

    # An individual's IIN with a typo in it: the check digit catches it.
    page.locator("input[name=iin_bin]").fill(TYPO_IIN)
    page.locator("main form button[type=submit]").click()
    expect(errors).to_contain_text("check digit")
    expect(page.locator("input[name=name]")).to_have_value("Aigerim Nurlanova")
    assert not CustomerProfile.objects.exists()
    shot(page, "profile-iin-typo")

    page.locator("input[name=iin_bin]").fill(VALID_IIN)
    page.locator("main form button[type=submit]").click()
    expect(page).to_have_url(site.url + "/account/")
    expect(page.get_by_text("Your details are saved.")).to_be_visible()
    expect(page.get_by_text(f"IIN / BIN: {VALID_IIN}")).to_be_visible()
    shot(page, "account")
    profile = CustomerProfile.objects.get(user__email=EMAIL)
    assert (profile.name, profile.iin_bin, profile.kind) == (
        "Aigerim Nurlanova", VALID_IIN, CustomerProfile.Kind.INDIVIDUAL)

    # The legal pages.
    footer = page.locator("footer")
    for name, href in [("Public Offer", "/legal/offer/"), ("Privacy Policy", "/legal/privacy/"),
                       ("Terms of Use", "/legal/terms/"), ("Contacts and details", "/legal/contacts/")]:
        expect(footer.get_by_role("link", name=name, exact=True)).to_have_attribute("href", href)

    footer.get_by_role("link", name="Public Offer", exact=True).click()
    expect(page).to_have_url(site.url + "/legal/offer/")
    expect(page.get_by_role("heading", name="Public Offer")).to_be_visible()
    expect(page.locator("main")).to_contain_text(re.compile(r"effective from \w+", re.I))
    expect(page.locator("main .badge")).to_have_text("In force")
    shot(page, "offer")

    page.goto(site.url + "/legal/offer/2025-11-01/")
    expect(page.get_by_role("heading", name="Public Offer")).to_be_visible()
    expect(page.locator("main")).to_contain_text("Version 2025-11-01")
    expect(page.locator("article.legal-text")).not_to_be_empty()
    shot(page, "offer-version")

    assert page.request.get(site.url + "/legal/offer/1999-01-01/").status == 404
