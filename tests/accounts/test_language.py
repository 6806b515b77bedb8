"""The language switch also sets the language of a logged-in customer's e-mails and
documents (before, only the sign-up language counted)."""

import pytest
from django.template.loader import render_to_string
from django.utils import translation

pytestmark = pytest.mark.django_db

TEMPLATE = "accounts/emails/account_deleted"


def _subject(lang: str) -> str:
    with translation.override(lang):
        return render_to_string(f"{TEMPLATE}_subject.txt", {}).strip()


def test_switching_the_language_while_logged_in_changes_the_email_language(client, customer, mailoutbox):
    from soldee.emails import send_customer_email

    assert customer.language == "en" and _subject("kk") != _subject("en")
    client.force_login(customer)
    response = client.post("/i18n/setlang/", {"language": "kk", "next": "/account/"})
    assert response.status_code == 302 and response["Location"] == "/account/"
    customer.refresh_from_db()
    assert customer.language == "kk"
    assert client.get("/account/").wsgi_request.LANGUAGE_CODE == "kk"  # the site too, as before
    with translation.override("en"):  # whatever the sending process speaks
        send_customer_email(user=customer, template=TEMPLATE, context={}, idempotency_key="lang-kk")
    assert mailoutbox[-1].subject == _subject("kk")


def test_a_visitor_or_an_unknown_language_changes_no_account(client, customer):
    assert client.post("/i18n/setlang/", {"language": "ru", "next": "/pricing/"}).status_code == 302
    client.force_login(customer)
    client.post("/i18n/setlang/", {"language": "de", "next": "/account/"})
    customer.refresh_from_db()
    assert customer.language == "en"
