"""Staff use the admin only with two-factor authentication (TOTP): one login page
(allauth's, with its rate limits) for everybody; the admin's own login redirects there."""

import time

import pytest
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, generate_totp_secret, hotp_value

from tests.factories import UserFactory

PASSWORD = "correct-horse-battery-9"


def current_code(secret: str) -> str:
    return format_hotp_value(hotp_value(secret, int(time.time()) // 30))


@pytest.fixture(autouse=True)
def _mfa_required(settings):
    # tests/conftest.py may switch it off for other apps' admin tests; here it is the subject.
    settings.SOLDEE_STAFF_MFA_REQUIRED = True


@pytest.fixture
def staff(db):
    return UserFactory(email="staff@soldee.kz", is_staff=True, is_superuser=True)


def test_admin_login_page_redirects_to_the_one_login_page(client, db):
    response = client.get("/admin/login/?next=/admin/billing/payment/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/admin/billing/payment/"


def test_admin_login_redirect_drops_an_outside_next(client, db):
    response = client.get("/admin/login/?next=https://evil.example/")
    assert response["Location"] == "/accounts/login/?next=/admin/"


def test_anonymous_admin_visit_ends_on_allauth_login(client, db):
    response = client.get("/admin/", follow=True)
    assert response.redirect_chain[-1][0].startswith("/accounts/login/")


def test_staff_without_an_authenticator_is_sent_to_set_one_up(client, staff):
    client.force_login(staff)
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/2fa/totp/activate/"


def test_staff_with_totp_but_no_second_factor_this_session_must_confirm(client, staff):
    TOTP.activate(staff, generate_totp_secret())
    client.force_login(staff)
    response = client.get("/admin/billing/payment/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/2fa/reauthenticate/?next=%2Fadmin%2Fbilling%2Fpayment%2F"


def test_staff_password_plus_totp_login_opens_the_admin(client, staff):
    secret = generate_totp_secret()
    TOTP.activate(staff, secret)
    response = client.post("/accounts/login/", {"login": staff.email, "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/accounts/2fa/authenticate/"
    assert "_auth_user_id" not in client.session, "the password alone does not log staff in"
    response = client.post("/accounts/2fa/authenticate/", {"code": current_code(secret)})
    assert response.status_code == 302
    assert client.get("/admin/").status_code == 200


@pytest.mark.django_db(transaction=True)  # allauth sends its signal on commit, inside the request
def test_setting_up_totp_in_the_session_opens_the_admin_without_a_second_code(client, staff):
    client.post("/accounts/login/", {"login": staff.email, "password": PASSWORD})
    assert client.get("/admin/")["Location"] == "/accounts/2fa/totp/activate/"
    # allauth asks for the password again before an authenticator is added.
    assert client.get("/accounts/2fa/totp/activate/")["Location"].startswith("/accounts/reauthenticate/")
    client.post("/accounts/reauthenticate/", {"password": PASSWORD})
    page = client.get("/accounts/2fa/totp/activate/")
    assert page.status_code == 200
    secret = client.session["mfa.totp.secret"]
    response = client.post("/accounts/2fa/totp/activate/", {"code": current_code(secret)})
    assert response.status_code == 302
    assert client.get("/admin/").status_code == 200


def test_a_customer_gets_no_admin(client, customer):
    client.force_login(customer)
    response = client.get("/admin/", follow=True)
    assert response.status_code == 403
    assert response.redirect_chain == [("/admin/login/?next=/admin/", 302)]


def test_the_requirement_can_be_switched_off_for_a_local_demo(client, staff, settings):
    settings.SOLDEE_STAFF_MFA_REQUIRED = False
    client.force_login(staff)
    assert client.get("/admin/").status_code == 200
