"""Privacy Policy 8.1: the website uses only a session cookie, a CSRF cookie and a
language cookie. Every response of the customer's walk (visitor pages, sign-up, errors,
a language switch, the account and its messages, sign-out) sets no other cookie."""

import pytest
from django.conf import settings
from django.test import Client

from subscriptions.models import Subscription

from ..billing.helpers import buy

pytestmark = pytest.mark.django_db


class RecordingClient(Client):
    """Remembers the name of every cookie any response set (or deleted)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.cookie_names = set()

    def request(self, **request):
        response = super().request(**request)
        self.cookie_names |= set(response.cookies)
        return response


def test_only_the_three_cookies_of_the_privacy_policy_are_set(customer, plan, documents):
    allowed = {settings.SESSION_COOKIE_NAME, settings.CSRF_COOKIE_NAME, settings.LANGUAGE_COOKIE_NAME}
    browser = RecordingClient()
    for path in ("/", "/pricing/", "/legal/contacts/", "/legal/offer/", "/accounts/login/", "/accounts/signup/"):
        assert browser.get(path, follow=True).status_code == 200, path
    browser.post("/accounts/signup/", {"email": "not an address", "password1": "x", "password2": "y"})
    browser.post("/accounts/login/", {"login": customer.email, "password": "wrong"})
    browser.post("/i18n/setlang/", {"language": "kk", "next": "/pricing/"}, follow=True)
    browser.post("/i18n/setlang/", {"language": "en", "next": "/pricing/"}, follow=True)
    buy(customer, plan, documents)
    subscription = Subscription.objects.get(customer=customer)
    browser.force_login(customer)
    assert browser.get("/account/").status_code == 200
    # Actions that leave a message for the next page ("renewal turned off" and back on).
    browser.post(f"/account/subscriptions/{subscription.pk}/renewal/", {"auto_renew": "0"}, follow=True)
    browser.post(f"/account/subscriptions/{subscription.pk}/renewal/", {"auto_renew": "1"}, follow=True)
    browser.post("/account/agent-key/revoke/", follow=True)
    browser.post("/accounts/logout/", follow=True)
    assert browser.cookie_names, "the walk set no cookie at all: the recorder is broken"
    assert browser.cookie_names <= allowed, f"cookies the Privacy Policy does not list: {browser.cookie_names - allowed}"
