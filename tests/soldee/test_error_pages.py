"""Production error pages (DEBUG=False): translated, in the site's style, with a way back.
Found by the newcomer explorer: a 404 in Kazakh was Django's bare English "Not Found"."""

import pytest
from django.core.exceptions import PermissionDenied, SuspiciousOperation
from django.test import Client, override_settings
from django.urls import include, path
from django.utils import translation


def _raise_permission_denied(request):
    raise PermissionDenied


def _raise_bad_request(request):
    raise SuspiciousOperation("tampered")


def _raise_error(request):
    raise RuntimeError("boom")


urlpatterns = [
    path("test-errors/403/", _raise_permission_denied),
    path("test-errors/400/", _raise_bad_request),
    path("test-errors/500/", _raise_error),
    path("", include("soldee.urls")),
]

HEADINGS = {
    404: {"en": "Page not found", "ru": "Страница не найдена", "kk": "Бет табылмады"},
    403: {"en": "Access denied", "ru": "Доступ запрещён", "kk": "Рұқсат жоқ"},
    400: {"en": "Bad request", "ru": "Некорректный запрос", "kk": "Қате сұраныс"},
    500: {"en": "Something went wrong", "ru": "Что-то пошло не так", "kk": "Қате орын алды"},
}
URLS = {404: "/no-such-page/", 403: "/test-errors/403/", 400: "/test-errors/400/", 500: "/test-errors/500/"}


@pytest.mark.parametrize("status", [404, 403, 400, 500])
@pytest.mark.parametrize("language", ["en", "ru", "kk"])
@override_settings(DEBUG=False, ROOT_URLCONF=__name__)
def test_an_error_page_is_in_the_visitor_s_language_with_the_site_s_style_and_a_way_home(db, status, language):
    client = Client(raise_request_exception=False)
    response = client.get(URLS[status], HTTP_ACCEPT_LANGUAGE=language)
    assert response.status_code == status
    body = response.content.decode()
    assert f'<html lang="{language}">' in body
    assert f"<h1>{HEADINGS[status][language]}</h1>" in body
    assert "css/site.css" in body
    assert 'href="/"' in body  # home
    if status != 500:  # the site's layout: its navigation and footer
        assert 'href="/pricing/"' in body and 'href="/legal/contacts/"' in body
    assert "Not Found" not in body and "Server Error" not in body


@override_settings(DEBUG=False, ROOT_URLCONF=__name__)
def test_a_logged_in_customer_s_404_links_the_personal_account(client, customer):
    from django.conf import settings

    client.force_login(customer)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "kk"
    body = client.get("/no-such-page/").content.decode()
    assert "Жеке кабинетке өту" in body


@pytest.mark.parametrize("language", ["en", "ru", "kk"])
def test_the_500_page_renders_with_an_empty_context_and_without_the_database(language):
    """Django's server_error renders 500.html with no request and no context: no context
    processors (user, provider), and the database may be what failed: this test has no
    database access (pytest-django refuses any query)."""
    from django.template import loader

    with translation.override(language):
        body = loader.get_template("500.html").render()
    assert HEADINGS[500][language] in body


@override_settings(DEBUG=False, ALLOWED_HOSTS=["good.example"])
def test_a_request_for_a_host_not_served_gets_the_translated_400_page(db):
    """DisallowedHost is raised in the middleware, before the user is known: the page still renders."""
    response = Client(raise_request_exception=False).get("/pricing/", HTTP_HOST="evil.example",
                                                         HTTP_ACCEPT_LANGUAGE="kk")
    assert response.status_code == 400
    assert "<h1>Қате сұраныс</h1>" in response.content.decode()


@pytest.mark.parametrize("language", ["en", "ru", "kk"])
@override_settings(DEBUG=False)
def test_a_form_sent_without_a_valid_csrf_token_says_so_in_the_visitor_s_language(db, customer, language):
    """Found by the explorer's fixer: a form sent after its session changed (open too long,
    signed out in another tab) got Django's bare CSRF page, English in Kazakh. Nothing changes."""
    from subscriptions.models import Subscription

    expected = {"en": "The form has expired", "ru": "Форма устарела", "kk": "Форманың мерзімі өтті"}
    customer.language = language  # a signed-in customer reads their own language
    customer.save(update_fields=["language"])
    client = Client(enforce_csrf_checks=True)
    client.force_login(customer)
    before = Subscription.objects.count()
    response = client.post("/profile/privacy/consent/", {"action": "withdraw"}, HTTP_ACCEPT_LANGUAGE=language)
    assert response.status_code == 403
    body = response.content.decode()
    assert f"<h1>{expected[language]}</h1>" in body and "css/site.css" in body
    assert "CSRF verification failed" not in body
    assert Subscription.objects.count() == before
