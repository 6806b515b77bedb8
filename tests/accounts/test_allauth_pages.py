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


def test_a_kazakh_sign_up_gets_its_confirmation_e_mail_and_pages_in_kazakh(client, documents, mailoutbox):
    # allauth has no Kazakh catalogue: locale_vendor/kk carries its texts.
    client.cookies["django_language"] = "kk"
    page = client.get(reverse("account_login")).content.decode()
    assert "Мені есте сақтау" in page and "Remember Me" not in page
    data = {"email": "jana@example.kz", "password1": "a-long-pass-phrase-7", "password2": "a-long-pass-phrase-7",
            "consent": "on"}
    assert client.post(reverse("account_signup"), data).status_code == 302
    [mail] = mailoutbox
    assert "Электрондық пошта мекенжайыңызды растаңыз" in mail.subject
    assert "Soldee сізге сәлем жолдайды!" in mail.body and "Hello from" not in mail.body


def test_kazakh_customer_pages_do_not_fall_back_to_russian(client, customer, documents, mailoutbox):
    """A string missing from locale_vendor/kk falls back to LANGUAGE_CODE (Russian): the
    confirmation, re-authentication and two-factor pages must be in Kazakh."""
    import re

    client.cookies["django_language"] = "kk"
    data = {"email": "dana@example.kz", "password1": "a-long-pass-phrase-7", "password2": "a-long-pass-phrase-7",
            "consent": "on"}
    client.post(reverse("account_signup"), data)
    link = re.search(r"(/accounts/confirm-email/[^\s]+/)", mailoutbox[-1].body).group(1)
    pages = {"confirm": client.get(link).content.decode()}
    client.force_login(customer)
    pages["reauthenticate"] = client.get(reverse("account_reauthenticate")).content.decode()
    pages["mfa"] = client.get(reverse("mfa_index")).content.decode()
    from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes

    RecoveryCodes.activate(customer)
    session = client.session  # recently authenticated: the codes pages need no re-authentication
    session["account_authentication_methods"] = [{"method": "password", "at": __import__("time").time(),
                                                   "reauthenticated": True}]
    session["account_authentication_methods_user"] = str(customer.pk)
    session.save()
    pages["codes"] = client.get(reverse("mfa_view_recovery_codes")).content.decode()
    pages["generate"] = client.get(reverse("mfa_generate_recovery_codes")).content.decode()
    expected = {"confirm": "Электрондық пошта мекенжайын растау", "reauthenticate": "Қолжетімділікті растау",
                "mfa": "Аутентификатор қолданбасы", "codes": "Пайдаланылмаған кодтар",
                "generate": "Бұл әрекет қолданыстағы кодтарыңызды жарамсыз етеді."}
    for name, html in pages.items():
        assert expected[name] in html, name
        for russian in ("Подтвердите", "Приложение", "Пожалуйста"):
            assert russian not in html, (name, russian)


def test_the_russian_confirmation_e_mail_closes_its_quotes_before_the_exclamation(client, documents, mailoutbox):
    client.cookies["django_language"] = "ru"
    data = {"email": "olga@example.kz", "password1": "a-long-pass-phrase-7", "password2": "a-long-pass-phrase-7",
            "consent": "on"}
    client.post(reverse("account_signup"), data)
    body = mailoutbox[-1].body
    assert "сайта «" in body and "»!" in body and "!»" not in body


def test_the_plan_chosen_before_signing_up_is_where_the_new_customer_lands(client, plan, documents, mailoutbox):
    """Pricing → "Choose Start" → the login page; the visitor has no account and signs up:
    the plan's checkout is kept through the sign-up and the e-mail confirmation."""
    import re

    target = f"/account/checkout/{plan.code}/"
    login = client.get(f"/accounts/login/?next={target}").content.decode()
    # The header's "Sign up" button too (the one people press), not only the page's own link.
    assert f'class="button small" href="/accounts/signup/?next=/account/checkout/{plan.code}/"' in login
    signup = client.get(f"/accounts/signup/?next={target}").content.decode()
    assert f'value="{target}"' in signup  # carried in the form
    client.post(f"/accounts/signup/?next={target}", {
        "email": "new@example.kz", "password1": "A-long-pass-2026!", "password2": "A-long-pass-2026!",
        "consent": "on", "next": target})
    link = re.search(r"https?://\S+(/accounts/confirm-email/\S+/)", mailoutbox[-1].body).group(1)
    response = client.post(link)
    assert response.status_code == 302 and response["Location"] == target


def test_an_address_typed_by_another_customer_is_not_told_who_typed_it(client, customer, other_customer, mailoutbox):
    """A customer adds an address that belongs to someone else: its owner gets the
    confirmation request (allauth cannot refuse without telling who has an account), but
    not the other customer's e-mail address."""
    client.force_login(customer)
    client.post("/accounts/email/", {"action_add": "", "email": other_customer.email})
    sent = [m for m in mailoutbox if other_customer.email in m.to]
    assert sent and all(customer.email not in m.body for m in sent)


def test_a_changed_password_or_address_is_notified_for_security(client, customer, mailoutbox):
    """Someone who got into the account and changed the password or the address: the
    customer hears of it (the address change at the OLD address), with the IP and browser.
    (Found by the customer explorer: nothing was sent.)"""
    client.force_login(customer)
    client.cookies["django_language"] = "kk"
    response = client.post(reverse("account_change_password"), {
        "oldpassword": "correct-horse-battery-9", "password1": "a-new-pass-phrase-8",
        "password2": "a-new-pass-phrase-8"})
    assert response.status_code == 302
    [notice] = [m for m in mailoutbox if customer.email in m.to]
    assert "Құпиясөзіңіз өзгертілді" in notice.body  # in the customer's language
    assert "127.0.0.1" in notice.body

    from allauth.account.internal.flows.manage_email import emit_email_changed
    from allauth.account.models import EmailAddress

    mailoutbox.clear()
    old = EmailAddress.objects.filter(user=customer, primary=True).first() or EmailAddress.objects.create(
        user=customer, email=customer.email, primary=True, verified=True)
    new = EmailAddress.objects.create(user=customer, email="new-address@example.kz", primary=False, verified=True)
    from allauth.core.context import request_context

    request = response.wsgi_request
    with request_context(request):  # as allauth's middleware does for a request
        emit_email_changed(request, old, new)
    assert [m.to for m in mailoutbox] == [[customer.email]]
    assert "new-address@example.kz" in mailoutbox[0].body


def test_the_russian_security_notice_reads_as_russian(client, customer, mailoutbox):
    """allauth's own Russian says "Пароль Изменён" and "if you did not notice this change";
    locale_vendor/ru corrects both. (Found by the last explorer.)"""
    client.force_login(customer)
    client.cookies["django_language"] = "ru"
    client.post(reverse("account_change_password"), {
        "oldpassword": "correct-horse-battery-9", "password1": "a-new-pass-phrase-8",
        "password2": "a-new-pass-phrase-8"})
    [notice] = [m for m in mailoutbox if customer.email in m.to]
    assert "Пароль изменён" in notice.subject and "Изменён" not in notice.subject
    assert "Если это сделали не вы" in notice.body and "не заметили" not in notice.body


@pytest.mark.parametrize("language, text", [
    ("en", "is your email address."),
    ("ru", "— ваш адрес электронной почты."),
    ("kk", "сіздің электрондық пошта мекенжайыңыз екенін растаңыз."),
])
def test_the_e_mail_confirmation_page_names_the_address_once(client, documents, mailoutbox, language, text):
    """Our users are known by their e-mail address: allauth's "confirm that ivan@… is an
    email address for user ivan@…" named it twice (templates/account/email_confirm.html)."""
    import re

    client.cookies["django_language"] = language
    data = {"email": "ivan@example.kz", "password1": "a-long-pass-phrase-7", "password2": "a-long-pass-phrase-7",
            "consent": "on"}
    client.post(reverse("account_signup"), data)
    link = re.search(r"(/accounts/confirm-email/[^\s]+/)", mailoutbox[-1].body).group(1)
    page = client.get(link).content.decode()
    [sentence] = [line.strip() for line in page.splitlines() if "mailto:ivan@example.kz" in line]
    assert text in sentence
    assert sentence.count("ivan@example.kz") == 2, sentence  # the link's address and text, no "user ivan@…"


@pytest.mark.parametrize("language, name, button", [
    ("en", "Sign up", "Sign up"), ("ru", "Регистрация", "Зарегистрироваться"), ("kk", "Тіркелу", "Тіркелу"),
])
def test_the_sign_up_page_s_title_and_heading_say_the_same(client, language, name, button):
    """Found by a newcomer: the English page's title was allauth's "Signup" and its heading
    "Sign Up"; both say "Sign up" now, as the header's button does."""
    import re

    client.cookies["django_language"] = language
    page = client.get(reverse("account_signup")).content.decode()
    title = re.search(r"<title>(.*?)</title>", page, re.S).group(1)
    heading = re.search(r"<h1[^>]*>(.*?)</h1>", page, re.S).group(1)
    assert title.strip().startswith(name) and heading.strip() == name, (title, heading)
    assert re.search(rf'<button[^>]*type="submit"[^>]*>\s*{button}\s*</button>', page), page


@pytest.mark.parametrize("language, text", [
    ("en", "write to us at"), ("ru", "напишите нам на адрес"), ("kk", "бізге мына мекенжайға жазыңыз:"),
])
def test_the_verify_e_mail_page_says_where_to_write(client, language, text, settings):
    """Found by a newcomer: "Please contact us if you do not receive the verification email"
    gave no address and no link."""
    client.cookies["django_language"] = language
    page = client.get(reverse("account_email_verification_sent")).content.decode()
    email = settings.PROVIDER["emails"][0]
    assert f'{text} <a id="contact-email" href="mailto:{email}">{email}</a>.' in page
