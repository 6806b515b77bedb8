"""Brute force: allauth's rate limits (settings.ACCOUNT_RATE_LIMITS) refuse login
attempts, signups and password-reset e-mails beyond their limits. The counters live in
the cache (locmem here; Redis via CACHE_URL in production, shared by all web workers)."""

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
