import pytest

from accounts.models import CustomerProfile, PersonalDataConsent
from soldee.models import Event
from tests.factories import VALID_BIN

pytestmark = pytest.mark.django_db

VALID = {"kind": "individual", "name": "Aigerim Sarsenova", "iin_bin": "900101300017",
         "address": "Almaty, Abay ave. 10", "phone": "+7 701 111 22 33", "is_resident": "on",
         "country": "KZ", "payment_currency": "KZT"}


def test_a_bad_iin_rerenders_with_a_field_error_and_keeps_the_input(client, user_without_profile):
    client.force_login(user_without_profile)
    response = client.post("/profile/", {**VALID, "iin_bin": "900101300018"}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    body = response.content.decode()
    assert "fails the IIN/BIN check digit" in body
    assert 'value="Aigerim Sarsenova"' in body
    assert not CustomerProfile.objects.exists()


def test_a_legal_entity_needs_a_bin_and_a_signatory(client, user_without_profile):
    client.force_login(user_without_profile)
    data = {**VALID, "kind": "legal_entity", "name": "Example LLP"}
    response = client.post("/profile/", data, HTTP_ACCEPT_LANGUAGE="en")
    errors = response.context["form"].errors
    assert "iin_bin" in errors and "signatory_name" in errors and "signatory_basis" in errors
    data.update(iin_bin=VALID_BIN, signatory_name="A. Director", signatory_basis="Charter")
    response = client.post("/profile/", data)
    assert response.status_code == 302
    assert CustomerProfile.objects.get().kind == "legal_entity"


def test_the_providers_own_bin_copied_from_an_invoice_is_refused(client, user_without_profile, settings):
    client.force_login(user_without_profile)
    data = {**VALID, "kind": "legal_entity", "name": "Example LLP", "iin_bin": settings.PROVIDER["bin"],
            "signatory_name": "A. Director", "signatory_basis": "Charter"}
    response = client.post("/profile/", data, HTTP_ACCEPT_LANGUAGE="en")
    assert response.context["form"].errors["iin_bin"] == [
        "This is the BIN of STG LLP, the provider; enter your own IIN or BIN."]
    assert not CustomerProfile.objects.exists()
    client.cookies["django_language"] = "ru"
    response = client.post("/profile/", data)
    assert "ТОО «STG»" in response.context["form"].errors["iin_bin"][0]


def test_an_individual_has_no_signatory_even_if_one_was_typed_as_a_legal_entity(client, user_without_profile):
    client.force_login(user_without_profile)
    data = {**VALID, "signatory_name": "A. Director", "signatory_basis": "Charter"}
    assert client.post("/profile/", data).status_code == 302
    profile = CustomerProfile.objects.get()
    assert (profile.kind, profile.signatory_name, profile.signatory_basis) == ("individual", "", "")
    data = {**data, "kind": "legal_entity", "name": "Example LLP", "iin_bin": VALID_BIN}
    assert client.post("/profile/", data).status_code == 302
    profile.refresh_from_db()
    assert (profile.kind, profile.signatory_name, profile.signatory_basis) == ("legal_entity", "A. Director", "Charter")
    # Back to an individual: the company's signatory leaves the agreement details.
    assert client.post("/profile/", {**VALID, "signatory_name": "A. Director"}).status_code == 302
    profile.refresh_from_db()
    assert (profile.kind, profile.signatory_name, profile.signatory_basis) == ("individual", "", "")


def test_a_non_resident_without_an_iin_or_bin_can_fill_the_details_and_a_resident_cannot(
        client, user_without_profile, settings):
    """Clause 6.2 provides for non-residents, who seldom have a Kazakh IIN/BIN."""
    client.force_login(user_without_profile)
    resident = client.post("/profile/", {**VALID, "iin_bin": ""}, HTTP_ACCEPT_LANGUAGE="en")
    assert resident.status_code == 200
    assert resident.context["form"].errors["iin_bin"] == ["Required for a resident of Kazakhstan."]
    foreign = {k: v for k, v in VALID.items() if k != "is_resident"} | {
        "iin_bin": "", "country": "DE", "payment_currency": "USD", "name": "Anna Schmidt"}
    assert client.post("/profile/", foreign, HTTP_ACCEPT_LANGUAGE="en").status_code == 302
    profile = CustomerProfile.objects.get()
    assert (profile.is_resident, profile.iin_bin, profile.country) == (False, "", "DE")
    assert str(profile) == "Anna Schmidt"
    # A number a non-resident does give is still checked.
    response = client.post("/profile/", {**foreign, "iin_bin": "900101300018"}, HTTP_ACCEPT_LANGUAGE="en")
    assert "fails the IIN/BIN check digit" in response.content.decode()
    body = client.get("/account/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "IIN / BIN:" not in body and "Anna Schmidt" in body


def test_residency_and_country_must_agree(client, user_without_profile):
    client.force_login(user_without_profile)
    response = client.post("/profile/", {**VALID, "country": "RU"})
    assert "country" in response.context["form"].errors
    response = client.post("/profile/", {**{k: v for k, v in VALID.items() if k != "is_resident"}, "country": "KZ"})
    assert "country" in response.context["form"].errors


def test_saving_the_profile_records_an_event_and_returns_to_next(client, user_without_profile):
    client.force_login(user_without_profile)
    response = client.post("/profile/?next=/account/checkout/start/", VALID)
    assert response["Location"] == "/account/checkout/start/"
    assert Event.objects.filter(verb="profile.created", customer=user_without_profile).exists()
    response = client.post("/profile/?next=https://evil.example/", VALID)
    assert response["Location"] == "/account/"


def test_signup_requires_and_records_consent(client, documents):
    from django.core import mail

    data = {"email": "new@example.kz", "password1": "a-long-pass-phrase-7", "password2": "a-long-pass-phrase-7"}
    response = client.post("/accounts/signup/", data, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200 and "consent" in response.context["form"].errors
    response = client.post("/accounts/signup/", {**data, "consent": "on"}, REMOTE_ADDR="10.1.2.3")
    assert response.status_code == 302
    consent = PersonalDataConsent.objects.get()
    assert consent.user.email == "new@example.kz"
    assert consent.policy == documents["privacy"] and consent.ip_address == "10.1.2.3"
    assert len(mail.outbox) == 1  # the verification e-mail
    assert "Hello from Soldee!" in mail.outbox[0].body and "Thank you for using Soldee!" in mail.outbox[0].body
    # mandatory verification: no access before the e-mail is confirmed
    assert client.get("/account/").status_code == 302


@pytest.mark.parametrize("phone, ok", [("+7 701 123 45 67", True), ("8 (727) 356-00-00", True), ("abc", False),
                                       ("+7 701", False), ("+7 701 123 45 67 ext 5", False), ("1" * 16, False)])
def test_the_phone_must_look_like_a_phone_number(client, user_without_profile, phone, ok):
    client.force_login(user_without_profile)
    response = client.post("/profile/", {**VALID, "phone": phone}, HTTP_ACCEPT_LANGUAGE="en")
    assert (response.status_code == 302) is ok
    if not ok:
        assert "Enter a phone number" in response.content.decode()
        assert f'value="{phone}"' in response.content.decode()  # what was typed is kept


def test_a_visitor_choosing_a_plan_signs_up_and_lands_on_its_checkout(client, documents, plan):
    """Found by the new-joiner run: "Choose Start" sent a visitor (most likely new) to the
    login page. It goes to sign-up, and confirming the e-mail leads on to the checkout."""
    import re

    from django.core import mail

    page = client.get("/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    link = re.search(r'href="([^"]+)">Choose Start<', page).group(1)
    assert link == "/accounts/signup/?next=/account/checkout/start/"
    data = {"email": "chooser@example.kz", "password1": "a-long-pass-phrase-7",
            "password2": "a-long-pass-phrase-7", "consent": "on"}
    assert client.post(link, data).status_code == 302
    confirm = re.search(r"https?://[^/\s]+(/accounts/confirm-email/\S+/)", mail.outbox[-1].body).group(1)
    response = client.post(confirm, follow=True)
    assert response.redirect_chain[-1][0].startswith("/profile/")  # details first, as every buyer
    assert response.redirect_chain[-1][0] == "/profile/?next=%2Faccount%2Fcheckout%2Fstart%2F"


@pytest.mark.parametrize("language, names", [
    ("en", ["Kazakhstan tenge (KZT)", "US Dollar (USD)", "Euro (EUR)", "Russian Ruble (RUB)"]),
    ("ru", ["Казахстанский тенге (KZT)", "Доллар США (USD)", "Евро (EUR)", "Российский рубль (RUB)"]),
    ("kk", ["Қазақстан теңгесі (KZT)", "АҚШ доллары (USD)", "Еуро (EUR)", "Ресей рублі (RUB)"]),
])
def test_every_payment_currency_is_named_in_the_reader_s_language(client, user_without_profile, settings,
                                                                   language, names):
    """Found by the customer explorer: "Казахстанский тенге (KZT)", then bare "USD", "EUR",
    "RUB". Each currency is named (babel's names; ours for the tenge), then its code."""
    settings.NONRESIDENT_CURRENCIES = ["USD", "EUR", "RUB"]
    user_without_profile.language = language  # a logged-in customer's pages are in their language
    user_without_profile.save(update_fields=["language"])
    client.force_login(user_without_profile)
    page = client.get("/profile/", HTTP_ACCEPT_LANGUAGE=language).content.decode()
    for code, name in zip(["KZT", "USD", "EUR", "RUB"], names, strict=True):
        assert f'<option value="{code}"' in page and f">{name}</option>" in page, (code, name)


def test_the_sign_up_page_says_which_plan_the_visitor_chose(client, documents, plan):
    """Found by the customer explorer: after "Choose Start" the sign-up page did not say
    which plan was chosen. It does when `next` is a plan's checkout (and stays so when the
    form comes back with an error); not for any other `next`, nor a plan off sale."""
    from tests.factories import PlanFactory

    said = "You chose Start: create an account to continue to payment."
    page = client.get("/accounts/signup/?next=/account/checkout/start/", HTTP_ACCEPT_LANGUAGE="en")
    assert said in page.content.decode()
    response = client.post("/accounts/signup/", {"email": "x@example.kz", "next": "/account/checkout/start/"},
                           HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200 and said in response.content.decode()
    PlanFactory(code="old", name="Old", is_active=False)
    for other in ("", "?next=/account/", "?next=/account/checkout/old/", "?next=/account/checkout/none/",
                  "?next=https://evil.example/account/checkout/start/"):
        body = client.get(f"/accounts/signup/{other}", HTTP_ACCEPT_LANGUAGE="en").content.decode()
        assert 'id="chosen-plan"' not in body and "You chose" not in body, other


@pytest.mark.parametrize("language, words", [("en", "A resident of Kazakhstan pays in tenge"),
                                             ("ru", "Резидент Казахстана платит в тенге"),
                                             ("kk", "Қазақстан резиденті теңгемен төлейді")])
def test_a_resident_choosing_another_currency_is_told_not_silently_saved_in_tenge(
        client, user_without_profile, language, words):
    """Found by the newcomer explorer: a resident who picked USD was saved as KZT without a word."""
    from django.conf import settings

    client.force_login(user_without_profile)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    response = client.post("/profile/", {**VALID, "payment_currency": "USD"})
    assert response.status_code == 200 and not CustomerProfile.objects.exists()
    assert "payment_currency" in response.context["form"].errors
    assert words in response.content.decode()
    # The tenge, or no choice at all, is saved as the tenge.
    assert client.post("/profile/", {**VALID, "payment_currency": ""}).status_code == 302
    assert CustomerProfile.objects.get().payment_currency == "KZT"
