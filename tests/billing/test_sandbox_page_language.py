"""The sandbox gateway's hosted page speaks the payer's language: the portal passes the
language that is active when it creates the hosted payment (as CloudPayments is given
CultureName), and the page is shown in it, whatever language the browser asks the
gateway's site for. Card decisions and notifications stay as they were."""

import html
import re

import pytest
from django.conf import settings
from django.test import Client

from billing.models import Payment, SandboxTransaction

from .helpers import notification

pytestmark = pytest.mark.django_db

NBSP = "\xa0"
PAGE = {
    "ru": {
        "lang": "ru",
        "invalid": "Введите правильный номер карты: от 12 до 19 цифр, как на карте.",
        "description": "Soldee — Start, 30 дней",
        "title": "Страница оплаты тестового шлюза",
        "warning": "ТЕСТОВЫЙ ПЛАТЁЖНЫЙ ШЛЮЗ — тестовый режим, реальные деньги не списываются.",
        "pay": f"Оплатить 29{NBSP}900{NBSP}₸",
        "card": "Номер карты",
        "cards": "Тестовые карты",
        "hints": [
            ("4242424242424242", "одобряется; списания за продление с неё тоже одобряются"),
            ("4000000000000002", "отклоняется: недостаточно средств"),
            ("4000000000000341", "одобряется; списания за продление с неё отклоняются"),
            ("4000000000000077", "одобряется с задержкой"),
            ("4000000000005126", "одобряется; возвраты на неё отклоняются (чтобы отрепетировать возврат "
                                 "банковским переводом)"),
        ],
        "other": "Оплата с любым другим номером карты отклоняется.",
        "declined": "Этот платёж отклонён: Недостаточно средств.",
        "back": "Вернуться в магазин",
        "required": "Обязательное поле.",
    },
    "kk": {
        "lang": "kk",
        "invalid": "Карта нөмірін дұрыс енгізіңіз: картада жазылғандай, 12–19 цифр.",
        "description": "Soldee — Start, 30 күн",
        "title": "Тест шлюзінің төлем беті",
        "warning": "ТЕСТ ТӨЛЕМ ШЛЮЗІ — тест режимі, нақты ақша есептен шығарылмайды.",
        "pay": f"29{NBSP}900{NBSP}₸ төлеу",
        "card": "Карта нөмірі",
        "cards": "Тест карталары",
        "hints": [
            ("4242424242424242", "мақұлданады; одан ұзарту төлемдері де мақұлданады"),
            ("4000000000000002", "қабылданбайды: қаражат жеткіліксіз"),
            ("4000000000000341", "мақұлданады; одан ұзарту төлемдері қабылданбайды"),
            ("4000000000000077", "кідіріспен мақұлданады"),
            ("4000000000005126", "мақұлданады; оған қайтарулар қабылданбайды (банк аударымымен қайтаруды "
                                 "сынап көру үшін)"),
        ],
        "other": "Кез келген басқа карта нөмірімен төлем қабылданбайды.",
        "declined": "Бұл төлем қабылданбады: Қаражат жеткіліксіз.",
        "back": "Дүкенге оралу",
        "required": "Бұл өрісті толтыру міндетті.",
    },
    "en": {
        "lang": "en",
        "invalid": "Enter a valid card number: 12 to 19 digits, as printed on the card.",
        "description": "Soldee — Start, 30 days",
        "title": "Sandbox payment page",
        "warning": "SANDBOX PAYMENT GATEWAY — test mode, no real money moves.",
        "pay": "Pay ₸29,900",
        "card": "Card number",
        "cards": "Test cards",
        "hints": [
            ("4242424242424242", "approved; renewal charges to it are approved too"),
            ("4000000000000002", "declined: insufficient funds"),
            ("4000000000000341", "approved; renewal charges to it are declined"),
            ("4000000000000077", "approved after a delay"),
            ("4000000000005126", "approved; refunds to it are refused (to rehearse a refund paid by bank transfer)"),
        ],
        "other": "Any other card number is declined.",
        "declined": "This payment is declined: Insufficient funds.",
        "back": "Return to the shop",
        "required": "This field is required.",
    },
}
OTHER = {"ru": "en", "kk": "en", "en": "ru"}  # the browser's language on the gateway's site


def text(page: str, pattern: str) -> str:
    match = re.search(pattern, page, re.S)
    assert match, pattern
    return html.unescape(match.group(1))


def checkout_in(client, customer, plan, language) -> Payment:
    """The customer confirms the purchase on the portal in `language`: to the sandbox page."""
    client.force_login(customer)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    page = client.get(f"/account/checkout/{plan.code}/")
    form = page.context["form"]
    response = client.post(f"/account/checkout/{plan.code}/", {
        "token": form.initial["token"], "documents": form.initial["documents"], "accept": "on"})
    assert response.status_code == 302 and "/billing/sandbox-gateway/pay/" in response["Location"]
    return Payment.objects.get(customer=customer)


def gateway_browser(language) -> Client:
    """The payer's browser on the gateway's site: no portal session, its own language."""
    return Client(HTTP_ACCEPT_LANGUAGE=language)


def hosted_page(payment) -> str:
    txn = SandboxTransaction.objects.get(invoice_id=str(payment.public_id), kind="hosted")
    return f"/billing/sandbox-gateway/pay/{txn.pk}/"


@pytest.mark.parametrize("language", ["ru", "kk", "en"])
def test_the_sandbox_page_is_shown_in_the_language_the_payment_was_started_in(
    client, customer, plan, documents, language
):
    expected = PAGE[language]
    payment = checkout_in(client, customer, plan, language)
    response = gateway_browser(OTHER[language]).get(hosted_page(payment))
    assert response.status_code == 200 and response["Content-Language"] == language
    page = response.content.decode()
    assert text(page, r'<html lang="([^"]+)"') == expected["lang"]
    assert text(page, r"<title>(.*?)</title>") == expected["title"]
    assert text(page, r'<p class="msg warning">(.*?)</p>') == expected["warning"]
    assert text(page, r"<h1>(.*?)</h1>") == expected["pay"]
    # What is paid for, in that language too (stored and sent to the gateway in English).
    assert text(page, r'</h1>\s*<p class="muted">(.*?)</p>') == expected["description"]
    assert payment.description == "Soldee — Start, 30 days"
    assert text(page, r'<button type="submit" class="primary" id="sandbox-pay">(.*?)</button>') == expected["pay"]
    assert text(page, r"<label[^>]*>(.*?)</label>") == expected["card"]
    assert text(page, r"<h2>(.*?)</h2>") == expected["cards"]
    assert re.findall(r"<li><code>(\d+)</code> — (.*?)</li>", page) == expected["hints"]
    assert text(page, r'</ul>\s*<p class="muted">(.*?)</p>') == expected["other"]


@pytest.mark.parametrize("language", ["ru", "kk", "en"])
def test_a_card_form_error_and_a_declined_payment_are_worded_in_that_language(
    client, customer, plan, documents, language, django_capture_on_commit_callbacks
):
    expected = PAGE[language]
    payment = checkout_in(client, customer, plan, language)
    browser, url = gateway_browser(OTHER[language]), hosted_page(payment)
    refused = browser.post(url, {"card_number": ""})
    assert refused.status_code == 200
    assert text(refused.content.decode(), r'<ul class="errorlist[^"]*"[^>]*><li>(.*?)</li>') == expected["required"]

    with django_capture_on_commit_callbacks(execute=True):
        assert browser.post(url, {"card_number": "4000 0000 0000 0002"}).status_code == 302
    page = browser.get(url).content.decode()
    assert text(page, r'<section class="card">.*?</p>\s*<p>(.*?)\s*<a ') == expected["declined"]
    assert text(page, r'<a href="[^"]*">(.*?)</a></p>') == expected["back"]
    # What the sandbox decides and tells the portal does not depend on the language.
    txn = SandboxTransaction.objects.get(pk=url.rstrip("/").rsplit("/", 1)[1])
    assert (txn.status, txn.reason) == (SandboxTransaction.Status.DECLINED, "Insufficient funds")
    assert b'"reason":"Insufficient funds"' in notification(txn)


def test_continuing_the_payment_in_another_language_shows_the_same_page_in_that_one(
    client, customer, plan, documents
):
    payment = checkout_in(client, customer, plan, "ru")
    url = hosted_page(payment)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "kk"
    response = client.get(f"/billing/payments/{payment.public_id}/continue/")
    assert response.status_code == 302 and response["Location"].endswith(url)  # the same page, no second one
    page = gateway_browser("ru").get(url).content.decode()
    assert text(page, r"<h1>(.*?)</h1>") == PAGE["kk"]["pay"]


def test_a_page_created_without_a_language_follows_the_browser(customer, plan, documents):
    """A ledger row from before the language was passed: the browser's language."""
    from django.utils import translation

    from billing.services import payment_hosted_url

    from .helpers import start_checkout

    payment = start_checkout(None, customer, plan, documents)
    with translation.override(None):
        payment_hosted_url(payment=payment)
    url = hosted_page(payment)
    assert SandboxTransaction.objects.get(invoice_id=str(payment.public_id)).language == ""
    assert text(gateway_browser("kk").get(url).content.decode(), r"<h1>(.*?)</h1>") == PAGE["kk"]["pay"]


@pytest.mark.parametrize("language", ["ru", "kk", "en"])
@pytest.mark.parametrize("number", ["1234 5678", "4242 4242 4242 4241", "4242-4242-abcd-4242"])
def test_a_malformed_card_number_is_a_form_error_and_nothing_is_charged(
    client, customer, plan, documents, language, number, django_capture_on_commit_callbacks
):
    """Found by the newcomer explorer: "1234 5678" was declined as "Insufficient funds"."""
    payment = checkout_in(client, customer, plan, language)
    browser, url = gateway_browser(OTHER[language]), hosted_page(payment)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        refused = browser.post(url, {"card_number": number})
    assert refused.status_code == 200 and not callbacks
    page = refused.content.decode()
    assert text(page, r'<ul class="errorlist[^"]*"[^>]*><li>(.*?)</li>') == PAGE[language]["invalid"]
    txn = SandboxTransaction.objects.get(pk=url.rstrip("/").rsplit("/", 1)[1])
    assert txn.status == SandboxTransaction.Status.AWAITING_CARD and not txn.reason
    payment.refresh_from_db()
    assert payment.status == Payment.Status.PENDING
    # A well-formed number the sandbox does not know is still declined by the "bank".
    with django_capture_on_commit_callbacks(execute=True):
        assert browser.post(url, {"card_number": "5555 5555 5555 4444"}).status_code == 302
    assert SandboxTransaction.objects.get(pk=txn.pk).status == SandboxTransaction.Status.DECLINED
