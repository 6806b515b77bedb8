"""Brute force: allauth's rate limits (settings.ACCOUNT_RATE_LIMITS) refuse login
attempts, signups and password-reset e-mails beyond their limits. The counters live in
the cache (locmem here; Redis via CACHE_URL in production, shared by all web workers)."""

import pytest
from django.conf import settings

from tests.factories import UserFactory

PASSWORD = "correct-horse-battery-9"


def _login(client, email, password):
    return client.post("/accounts/login/", {"login": email, "password": password})


def test_a_real_cache_backs_the_limits():
    assert "DummyCache" not in settings.CACHES["default"]["BACKEND"]
    assert "login_failed" in settings.ACCOUNT_RATE_LIMITS


def test_five_wrong_passwords_lock_the_account_even_for_the_right_one(client, db):
    user = UserFactory(email="victim@example.kz")
    for _ in range(5):
        response = _login(client, user.email, "wrong-password")
        assert response.status_code == 200 and "_auth_user_id" not in client.session
    response = _login(client, user.email, PASSWORD)
    assert response.status_code == 200, "the correct password must be refused now"
    assert "_auth_user_id" not in client.session
    assert "Too many failed login attempts" in response.content.decode() or response.context["form"].errors


def test_another_account_is_not_locked_by_those_failures(client, db):
    victim, other = UserFactory(email="victim2@example.kz"), UserFactory(email="other2@example.kz")
    for _ in range(5):
        _login(client, victim.email, "wrong-password")
    response = _login(client, other.email, PASSWORD)
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(other.pk)


def test_a_sixth_attempt_with_the_right_password_succeeds_below_the_limit(client, db):
    user = UserFactory(email="typo@example.kz")
    for _ in range(4):
        _login(client, user.email, "wrong-password")
    assert _login(client, user.email, PASSWORD).status_code == 302


def test_login_posts_from_one_ip_beyond_the_limit_get_429(client, db):
    # 30 per minute per IP (settings): the cheap way to reach it is an empty form.
    for _ in range(30):
        assert client.post("/accounts/login/", {}).status_code == 200
    assert client.post("/accounts/login/", {}).status_code == 429


def test_signups_from_one_ip_beyond_the_limit_get_429(client, db):
    for _ in range(20):
        assert client.post("/accounts/signup/", {}).status_code == 200
    assert client.post("/accounts/signup/", {}).status_code == 429


def test_password_reset_emails_for_one_address_are_limited(client, db, mailoutbox):
    user = UserFactory(email="reset@example.kz")
    for _ in range(5):
        client.post("/accounts/password/reset/", {"email": user.email})
    sent = len(mailoutbox)
    assert sent == 5
    response = client.post("/accounts/password/reset/", {"email": user.email})
    assert len(mailoutbox) == sent, "no sixth reset e-mail within the hour"
    assert response.status_code in (200, 429)


ATTACKER, STAFF_OFFICE = "203.0.113.9", "198.51.100.20"


def _login_from(client, ip, email, password):
    return client.post("/accounts/login/", {"login": email, "password": password}, REMOTE_ADDR=ip)


def test_wrong_passwords_for_a_staff_address_do_not_keep_staff_out(client, db):
    """Found by the ops review: failures were counted per e-mail only, so five wrong
    passwords every 15 minutes, from anywhere, kept a staff member out of the admin for
    good. For staff with an authenticator app they count per e-mail and IP."""
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret

    staff = UserFactory(email="tech@soldee.kz", is_staff=True)
    TOTP.activate(staff, generate_totp_secret())
    for _ in range(5):
        _login_from(client, ATTACKER, staff.email, "wrong-password")
    refused = _login_from(client, ATTACKER, staff.email, PASSWORD)
    assert (
        refused.status_code == 200 and "Too many failed login attempts" in refused.content.decode()
    )

    response = _login_from(client.__class__(), STAFF_OFFICE, staff.email, PASSWORD)
    assert response.status_code == 302
    assert response["Location"] == "/accounts/2fa/authenticate/", "on to the authenticator code"


@pytest.mark.parametrize(
    "is_staff", [False, True], ids=["customer", "staff without an authenticator"]
)
def test_wrong_passwords_lock_an_account_without_a_second_factor_from_every_address(
    client, db, is_staff
):
    user = UserFactory(email="locked@example.kz", is_staff=is_staff)
    for _ in range(5):
        _login_from(client, ATTACKER, user.email, "wrong-password")
    response = _login_from(client.__class__(), STAFF_OFFICE, user.email, PASSWORD)
    assert (
        response.status_code == 200
        and "Too many failed login attempts" in response.content.decode()
    )
