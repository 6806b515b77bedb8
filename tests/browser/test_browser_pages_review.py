"""Every customer page, as a new customer sees it, in Russian, Kazakh and English, on a
phone (390x844) and a desktop (1280x900): nothing overflows sideways on the phone, no
English leftovers of the portal's own UI on ru/kk pages, and form errors sit next to
their fields. A representative set of screenshots goes to test-artifacts/browser/.

The data is seeded through the real services: a subscriber (paid Start through the
sandbox gateway, access granted, an error report, a refund request, a data export) and a
newcomer with a profile and a pending checkout payment; a second Offer version is
published so the versions list and the diff have something to show."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts import personal_data
from billing.models import SandboxTransaction
from billing.services import payment_hosted_url, payment_refresh_from_gateway
from offer.models import LegalDocument
from offer.services import (
    document_in_force,
    document_publish,
    documents_in_force,
    seed_initial_documents,
)
from plans.models import Plan
from refunds import services as refunds
from subscriptions.models import AccessGrant, Subscription
from subscriptions.services import access_provision, checkout_start
from tests.factories import ProfileFactory

pytestmark = pytest.mark.browser

PASSWORD = "correct-horse-battery-9"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
NEW_LABEL = "2099-01-01"

# Latin words a ru/kk page may show: brands, the provider's data, plan names, units,
# codes. Everything else in Latin letters is an untranslated leftover.
ALLOWED = {
    "soldee", "stg", "llp", "start", "pro", "business", "kzt", "usd", "eur", "rub", "iin", "bin",
    "iban", "bic", "swift", "kbe", "knp", "sha", "pdf", "zip", "json", "csv", "visa", "mastercard",
    "ru", "kk", "en", "id", "ai", "url", "api", "email", "e-mail", "jsc", "halyk", "kaspi", "bank",
    "almaty", "astana", "kz", "nbk", "utc", "png", "jpg", "jpeg", "txt", "iso", "us",
}
# Text nodes under these are not the portal's own UI text: legal texts stay as
# published, e-mail addresses, hashes, codes, the customer's own input, and the
# gateway's hosted page (a third party's page in production).
SKIP = ("code, .hash, .legal-text, .diff, a[href^='mailto:'], a[href^='tel:'], "
        "script, style, .lang-switch, [data-user-text], .customer-text")

TEXT_JS = """(skip) => {
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode, el = node.parentElement;
    if (!el || el.closest(skip)) continue;
    const style = getComputedStyle(el);
    if (style.visibility === 'hidden' || style.display === 'none' || !el.getClientRects().length) continue;
    out.push(node.textContent);
  }
  for (const el of document.querySelectorAll('input[placeholder], textarea[placeholder], [title], [aria-label]')) {
    if (el.closest(skip)) continue;
    for (const a of ['placeholder', 'title', 'aria-label']) if (el.getAttribute(a)) out.push(el.getAttribute(a));
  }
  for (const b of document.querySelectorAll('input[type=submit][value]')) out.push(b.value);
  out.push(document.title);
  return out.join('\\n');
}"""

OVERFLOW_JS = """() => {
  const w = window.innerWidth;
  const wide = [];
  for (const el of document.querySelectorAll('body *')) {
    const r = el.getBoundingClientRect();
    if (r.right > w + 1 && r.width > 0 && !el.closest('.table-scroll')) wide.push(el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + (el.className && typeof el.className === 'string' ? '.' + el.className.split(' ').join('.') : '') + ' ' + Math.round(r.right));
  }
  return {scroll: document.documentElement.scrollWidth, inner: w, wide: wide.slice(0, 8)};
}"""

WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*[A-Za-z]|[A-Za-z]")
EMAILISH = re.compile(r"\S+@\S+|https?://\S+|\b[0-9a-f]{8}-[0-9a-f-]{27,}\b|\b[\w-]*\d[\w-]*\b")


def data_words(*texts) -> set[str]:
    """Words of data the page shows as entered: the provider's details, the customer's."""
    return {w.lower() for t in texts for w in WORD.findall(str(t))}


def leftovers(text: str, allowed: set[str]) -> list[str]:
    text = EMAILISH.sub(" ", text)
    return sorted({w for w in WORD.findall(text) if w.lower() not in ALLOWED | allowed and len(w) > 1})


@pytest.fixture
def world(transactional_db, task_queue):
    seed_initial_documents()
    Plan.objects.create(code="start", name="Start", price_minor=2_990_000)
    docs = documents_in_force()
    subscriber = ProfileFactory(name="Aigerim Nurlanova").user
    payment = checkout_start(customer=subscriber, plan=Plan.objects.get(code="start"),
                             document_ids=[d.pk for d in docs.values()], token="t1",
                             client_ip="10.0.0.7", user_agent="pytest")
    payment_hosted_url(payment=payment)
    from billing.gateways import sandbox

    txn = SandboxTransaction.objects.get(invoice_id=str(payment.public_id), kind="hosted")
    sandbox.decide_hosted(txn.pk, sandbox.CARD_APPROVE)
    payment_refresh_from_gateway(payment=payment)
    access_provision(grant_id=AccessGrant.objects.get(term__payment=payment).pk)
    report = refunds.error_report_create(customer=subscriber, what_fails="Агент не отвечает на вопросы",
                                         since=timezone.now() - timedelta(hours=3), severity="blocker")
    request = refunds.refund_request_create(customer=subscriber, payment_id=payment.pk, ground="no_access",
                                            explanation="Доступ не выдан вовремя")
    export = personal_data.data_export_request(customer=subscriber)
    personal_data.data_export_build(export_id=export.pk)

    offer = document_in_force("offer")
    new = LegalDocument.objects.create(
        kind="offer", label=NEW_LABEL, title=offer.title, effective_date=timezone.datetime(2099, 1, 1).date(),
        body=offer.body + "\n12. Additional clause.\n")
    document_publish(document_id=new.pk)

    newcomer = ProfileFactory(name="Dana Sadykova").user
    pending = checkout_start(customer=newcomer, plan=Plan.objects.get(code="start"),
                             document_ids=[d.pk for d in docs.values()], token="t2",
                             client_ip="10.0.0.8", user_agent="pytest")
    payment_hosted_url(payment=pending)
    pending_txn = SandboxTransaction.objects.get(invoice_id=str(pending.public_id), kind="hosted")
    from soldee.provider import provider_details

    p = provider_details()
    allowed = data_words(*(getattr(p, f, "") for f in ("name", "address", "bank", "bic", "iban", "account")),
                         *(f"{c.profile.name} {c.profile.address}" for c in (subscriber, newcomer)))
    return {
        "allowed": allowed,
        "subscriber": subscriber, "newcomer": newcomer, "payment": payment, "report": report,
        "request": request, "export": export, "offer_old": offer.label, "sandbox_txn": pending_txn,
        "subscription": Subscription.objects.get(customer=subscriber),
    }


def set_language(page, code):
    button = page.locator(f".lang-switch button[value={code}]")
    if button.get_attribute("aria-current") != "true":
        button.click()
    expect(page.locator("html")).to_have_attribute("lang", code)


def log_in(page, site, user):
    page.goto(site.url + "/accounts/login/")
    page.locator("input[name=login]").fill(user.email)
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("main form button[type=submit]").click()
    expect(page).to_have_url(site.url + "/account/")


def log_out(page):
    page.locator("header form[action$='/logout/'] button").click()


class Review:
    def __init__(self, page, site, shot, lang, viewport_name):
        self.page, self.site, self.shot, self.lang, self.vp = page, site, shot, lang, viewport_name
        self.problems: list[str] = []
        self.allowed: set[str] = set()
        self.screenshots = True

    def check(self, name, allowed=(), screenshot=False):
        page = self.page
        page.wait_for_load_state("load")
        if self.vp == "phone":
            o = page.evaluate(OVERFLOW_JS)
            if o["scroll"] > o["inner"] + 1:
                self.problems.append(f"[{self.lang}/{self.vp}] {name}: overflows sideways {o}")
        squeezed = page.evaluate("""() => [...document.querySelectorAll('main dl.details')].flatMap(dl => {
          const width = dl.getBoundingClientRect().width;
          return [...dl.querySelectorAll(':scope > dd')].filter(dd => dd.getClientRects().length
            && width > 200 && dd.getBoundingClientRect().width < width * 0.4).map(dd => dd.textContent.trim().slice(0, 40));
        })""")
        if squeezed and self.vp != "phone":  # a long label must not squeeze the values to a few letters a line
            self.problems.append(f"[{self.lang}/{self.vp}] {name}: values squeezed beside long labels {squeezed}")
        if self.lang != "en" and name != "sandbox":
            text = page.evaluate(TEXT_JS, SKIP)
            words = leftovers(text, {w.lower() for w in allowed} | self.allowed)
            if words:
                self.problems.append(f"[{self.lang}/{self.vp}] {name}: English leftovers {words}")
        if screenshot and self.screenshots:
            self.shot(page, f"{self.lang}-{self.vp}-{name}")

    def visit(self, path, name, **kw):
        response = self.page.goto(self.site.url + path)
        assert response.status < 400, (path, response.status)
        self.check(name, **kw)

    def errors_next_to_fields(self, name):
        """Every visible error message sits in the same field block as an input."""
        bad = self.page.evaluate("""() => {
          const bad = [];
          for (const el of document.querySelectorAll('main .errorlist')) {
            if (!el.getClientRects().length || el.classList.contains('nonfield')) continue;
            // The nearest block around the message that holds a form control must hold
            // the controls of one field only: the message is that field's.
            let block = el.parentElement;
            while (block && !block.querySelector('input:not([type=hidden]), textarea, select')) block = block.parentElement;
            const names = block ? new Set([...block.querySelectorAll('input:not([type=hidden]), textarea, select')].map(c => c.name)) : new Set();
            if (names.size !== 1) bad.push(el.textContent.trim().slice(0, 120) + ' @ ' + (block ? block.tagName : 'none'));
          }
          return bad;
        }""")
        count = self.page.locator("main .errorlist:visible").count()
        if not count:
            self.problems.append(f"[{self.lang}/{self.vp}] {name}: no field error shown")
        for b in bad:
            self.problems.append(f"[{self.lang}/{self.vp}] {name}: error not next to a field: {b}")


def review_language(page, site, shot, world, lang, vp, screenshots):
    r = Review(page, site, shot, lang, vp)
    r.allowed = world["allowed"]
    r.screenshots = screenshots
    s = screenshots
    page.goto(site.url + "/")
    set_language(page, lang)
    # --- Anonymous -----------------------------------------------------------------
    r.check("pricing", screenshot=s)
    r.visit("/legal/offer/", "offer", screenshot=s)
    r.visit("/legal/offer/versions/", "offer-versions", screenshot=s)
    r.visit(f"/legal/offer/{NEW_LABEL}/", "offer-new-version")
    r.visit(f"/legal/offer/diff/{world['offer_old']}/{NEW_LABEL}/", "offer-diff", screenshot=s)
    expect(page.locator(".diff-line.diff-ins")).to_contain_text("12. Additional clause.")
    r.visit("/legal/privacy/", "privacy-policy")
    r.visit("/legal/terms/", "terms")
    r.visit("/legal/contacts/", "contacts", screenshot=s)
    r.visit("/accounts/signup/", "signup", screenshot=s)
    page.locator("input[name=email]").fill("new.customer@example.kz")
    page.locator("input[name=password1]").fill(PASSWORD)
    page.locator("input[name=password2]").fill(PASSWORD + "x")
    page.locator("input[name=consent]").check()
    page.locator("main form button[type=submit]").click()
    r.check("signup-errors", screenshot=s)
    r.errors_next_to_fields("signup-errors")
    r.visit("/accounts/login/", "login")
    page.locator("input[name=login]").fill(world["newcomer"].email)
    page.locator("input[name=password]").fill("wrong-password-1")
    page.locator("main form button[type=submit]").click()
    r.check("login-error", screenshot=s)
    r.visit("/accounts/password/reset/", "password-reset", screenshot=s)
    page.locator("input[name=email]").fill(world["newcomer"].email)
    page.locator("main form button[type=submit]").click()
    expect(page).to_have_url(site.url + "/accounts/password/reset/done/")
    r.check("password-reset-done", screenshot=s)
    r.visit(f"/billing/sandbox-gateway/pay/{world['sandbox_txn'].pk}/", "sandbox", screenshot=s)

    # --- The newcomer: checkout review ---------------------------------------------
    log_in(page, site, world["newcomer"])
    r.check("account-empty", screenshot=s)
    r.visit("/account/checkout/start/", "checkout", screenshot=s)
    page.locator("main form button[type=submit]").click()
    r.check("checkout-unaccepted", screenshot=s)
    log_out(page)

    # --- The subscriber --------------------------------------------------------------
    log_in(page, site, world["subscriber"])
    r.check("account", screenshot=s)
    r.visit("/profile/", "profile", screenshot=s)
    page.locator("input[name=iin_bin]").fill("123")
    page.locator("main form button[type=submit]").click()
    r.check("profile-errors", screenshot=s)
    r.errors_next_to_fields("profile-errors")
    r.visit(f"/billing/payments/{world['payment'].public_id}/return/", "payment-return", screenshot=s)
    r.visit(f"/account/subscriptions/{world['subscription'].pk}/renewal/", "renewal-off", screenshot=s)
    r.visit(f"/account/subscriptions/{world['subscription'].pk}/renewal/?on=1", "renewal-on")
    r.visit("/refunds/", "refunds", screenshot=s)
    r.visit("/refunds/errors/new/", "error-report-form", screenshot=s)
    page.locator("main form button[type=submit]").click()
    r.check("error-report-errors", screenshot=s)
    r.errors_next_to_fields("error-report-errors")
    r.visit(f"/refunds/errors/{world['report'].pk}/", "error-report-detail", screenshot=s)
    r.visit(f"/refunds/payments/{world['payment'].public_id}/request/", "refund-form", screenshot=s)
    r.visit(f"/refunds/requests/{world['request'].pk}/", "refund-detail", screenshot=s)
    r.visit("/profile/privacy/", "personal-data", screenshot=s)
    r.visit(f"/profile/privacy/exports/{world['export'].public_id}/", "data-export", screenshot=s)
    log_out(page)
    return r.problems


@pytest.mark.parametrize("vp", ["phone", "desktop"])
def test_customer_pages_review(page, site, shot, world, vp):
    page.set_viewport_size(PHONE if vp == "phone" else DESKTOP)
    problems = []
    for lang in ("ru", "kk", "en"):
        # Screenshots: every language on the phone, Russian on the desktop (time).
        problems += review_language(page, site, shot, world, lang, vp, screenshots=vp == "phone" or lang == "ru")
    print("\n".join(problems))
    assert not problems, "\n".join(problems)
