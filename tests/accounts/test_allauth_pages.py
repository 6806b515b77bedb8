"""Every allauth page the portal links to renders, for a visitor or a logged-in customer, in
each language: an overridden template that breaks shows here, not to a customer."""

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db

VISITOR_PAGES = ["account_login", "account_signup", "account_reset_password"]
CUSTOMER_PAGES = ["account_email", "account_change_password", "mfa_index", "account_reauthenticate"]


@pytest.mark.parametrize("language", ["en", "ru", "kk"])
def test_the_visitor_pages_render(client, language):
    client.cookies["django_language"] = language
    for name in VISITOR_PAGES:
        response = client.get(reverse(name))
        assert response.status_code == 200, name
        assert f'lang="{language}"' in response.content.decode(), name


@pytest.mark.parametrize("language", ["en", "ru", "kk"])
def test_the_customer_pages_render(client, customer, language):
    client.force_login(customer)
    client.cookies["django_language"] = language
    for name in CUSTOMER_PAGES:
        response = client.get(reverse(name))
        assert response.status_code == 200, name
        assert customer.email in response.content.decode() or name != "account_email", name
