"""A cached personal-account hit reads the shared cache twice: the session, then the user
and the page together (accounts.auth_backends.with_user + soldee.pagecache.read_ahead).
The user is still checked as without it."""

import pytest
from django.core.cache import caches

pytestmark = pytest.mark.django_db


@pytest.fixture
def cache_reads(monkeypatch):
    """The cache reads a request makes (a round trip each with Redis; the local-memory
    backend's get_many calls its get, which is not counted again)."""
    backend = type(caches["default"])
    reads, depth = [], [0]
    for name in ("get", "get_many"):
        real = getattr(backend, name)

        def spy(self, *args, _real=real, _name=name, **kwargs):
            if not depth[0]:
                reads.append(_name)
            depth[0] += 1
            try:
                return _real(self, *args, **kwargs)
            finally:
                depth[0] -= 1

        monkeypatch.setattr(backend, name, spy)
    return reads


def _session_reads(settings):
    return ["get"] if settings.SESSION_ENGINE.endswith("cached_db") else []  # else from the database


def test_a_cached_account_hit_is_two_cache_reads(client, customer, cache_reads, settings):
    client.force_login(customer)
    assert client.get("/account/").status_code == 200  # rendered and stored
    cache_reads.clear()
    response = client.get("/account/")
    assert response.status_code == 200 and "No payments yet." in response.content.decode()
    # The session (with a shared cache); the user, its page and their versions in one.
    assert cache_reads == [*_session_reads(settings), "get_many"]


def test_the_read_ahead_user_is_still_checked(client, customer, cache_reads):
    client.force_login(customer)
    client.get("/account/")
    client.get("/account/")
    session = client.session
    session["_auth_user_hash"] = "0" * 64  # as after a password change elsewhere
    session.save()
    response = client.get("/account/")
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_a_session_of_another_backend_is_not_read_ahead(client, customer, cache_reads, settings):
    plain = "django.contrib.auth.backends.ModelBackend"
    settings.AUTHENTICATION_BACKENDS = [*settings.AUTHENTICATION_BACKENDS, plain]
    client.force_login(customer, backend=plain)
    client.get("/account/")
    cache_reads.clear()
    assert client.get("/account/").status_code == 200
    assert cache_reads == [*_session_reads(settings), "get_many"]  # the page only: the user from the database
