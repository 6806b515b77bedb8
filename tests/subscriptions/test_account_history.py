"""The personal account shows the latest payments and agreements; "All payments" and
"All agreements" list the whole history, page by page."""

import pytest

from tests.factories import PlanFactory
from tests.pagespeed.test_query_counts import grow_history

pytestmark = pytest.mark.django_db


@pytest.fixture
def long_history(client, customer, documents):
    grow_history(customer, PlanFactory(code="start", name="Start", price_minor=2_990_000), documents, 30)
    client.force_login(customer)
    return customer


def rows(page: str, section: str) -> int:
    start = page.index(f'id="{section}"')
    return page[start:page.index("</section>", start)].count("<tr><td>")


def test_the_account_shows_the_latest_rows_and_links_to_the_whole_history(client, long_history):
    page = client.get("/account/").content.decode()
    assert rows(page, "payments") == 12 and rows(page, "acceptances") == 5
    assert 'href="/account/payments/" id="all-payments"' in page
    assert 'href="/account/agreements/" id="all-agreements"' in page
    assert f"R-T-{long_history.pk}-29" in page  # the newest payment's receipt
    assert f"R-T-{long_history.pk}-17" not in page


def test_all_payments_are_listed_page_by_page_newest_first(client, long_history):
    first = client.get("/account/payments/").content.decode()
    assert rows(first, "payments") == 25 and "Page 1 of 2" in first and 'rel="next"' in first
    assert f"R-T-{long_history.pk}-29" in first
    second = client.get("/account/payments/?page=2").content.decode()
    assert rows(second, "payments") == 5 and "Page 2 of 2" in second and 'rel="prev"' in second
    assert f"R-T-{long_history.pk}-0</a>" in second
    assert client.get("/account/payments/?page=99").status_code == 200  # out of range: the last page


def test_all_agreements_are_listed_page_by_page(client, long_history):
    first = client.get("/account/agreements/").content.decode()
    assert rows(first, "acceptances") == 25 and "Page 1 of 2" in first
    assert rows(client.get("/account/agreements/?page=2").content.decode(), "acceptances") == 5


def test_the_history_pages_speak_russian_and_kazakh(client, long_history):
    client.cookies["django_language"] = "ru"  # the language switch of this browser
    ru = client.get("/account/payments/").content.decode()
    assert "Все платежи" in ru and "Страница 1 из 2" in ru and "Старше" in ru
    client.cookies["django_language"] = "kk"
    kk = client.get("/account/").content.decode()
    assert "Барлық төлемдер" in kk and "Барлық шарттар" in kk


def test_a_short_history_has_no_all_links_and_the_pages_need_a_login(client, customer):
    client.force_login(customer)
    page = client.get("/account/").content.decode()
    assert "all-payments" not in page and "all-agreements" not in page
    assert "No payments yet." in client.get("/account/payments/").content.decode()
    client.logout()
    assert client.get("/account/payments/").status_code == 302
    assert client.get("/account/agreements/").status_code == 302


def test_personal_pages_are_kept_by_no_browser_or_proxy(client, customer):
    """Back after a change shows the page fresh, and a shared computer keeps no copy."""
    client.force_login(customer)
    for url in ("/account/", "/account/payments/", "/account/agreements/"):
        client.get(url)  # the second visit comes from the server's page cache: the same header
        cache_control = client.get(url)["Cache-Control"]
        assert "no-store" in cache_control and "private" in cache_control, url


def test_a_customers_own_language_follows_them_to_a_new_browser(client, customer):
    """The language chosen (User.language) is used in any browser where this customer logs
    in and has made no choice, over the browser's Accept-Language; a choice made in this
    browser (its cookie) wins; the next customer on a shared browser gets their own.
    (Found by the customer explorer: a Russian customer got English after reopening the
    browser; and by the review: a cookie pinned the first customer's language.)"""
    from tests.factories import UserFactory

    customer.language = "ru"
    customer.save(update_fields=["language"])
    client.force_login(customer)
    response = client.get("/account/", HTTP_ACCEPT_LANGUAGE="en")
    assert '<html lang="ru">' in response.content.decode()
    assert "django_language" not in response.cookies  # nothing pinned to the browser
    client.logout()
    other = UserFactory(email="kk-user@example.kz", language="kk")
    client.force_login(other)
    assert '<html lang="kk">' in client.get("/account/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    client.cookies["django_language"] = "en"  # this browser's own switch
    assert '<html lang="en">' in client.get("/account/").content.decode()


def test_the_signed_in_message_is_in_the_customers_own_language(client, db):
    """Left alone last session, now fixed: the first message after login came in the
    browser's language."""
    from tests.factories import UserFactory

    UserFactory(email="kk-login@example.kz", language="kk", password="correct-horse-battery-9")
    response = client.post("/accounts/login/", {"login": "kk-login@example.kz",
                                                "password": "correct-horse-battery-9"},
                           HTTP_ACCEPT_LANGUAGE="en", follow=True)
    messages = [str(m) for m in response.context["messages"]]
    assert messages and all("Successfully signed in" not in m for m in messages), messages
