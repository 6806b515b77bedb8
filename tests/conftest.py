"""Shared fixtures. Infrastructure a bare machine may lack (PostgreSQL, Redis,
Chromium) is requested through `require_*`: skipped with a reason locally, a FAILURE
when SOLDEE_REQUIRE_ALL=1 (as .ci/run sets), so CI never passes without them."""

import os
import socket
from urllib.parse import urlparse

import pytest
from django.conf import settings
from django.db import connection

from offer.services import seed_initial_documents

from .factories import VALID_BIN, PlanFactory, ProfileFactory, UserFactory

REQUIRE_ALL = os.environ.get("SOLDEE_REQUIRE_ALL") == "1"


def missing(reason: str):
    if REQUIRE_ALL:
        pytest.fail(f"required infrastructure missing (SOLDEE_REQUIRE_ALL=1): {reason}")
    pytest.skip(reason)


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture
def require_postgres():
    if connection.vendor != "postgresql":
        missing("needs PostgreSQL: run with DATABASE_URL=postgres://... (concurrency, row locks)")


@pytest.fixture
def require_redis():
    url = os.environ.get("CELERY_BROKER_URL", "")
    if not url.startswith("redis://"):
        missing("needs Redis: run with CELERY_BROKER_URL=redis://127.0.0.1:6379/0")
    parsed = urlparse(url)
    if not _port_open(parsed.hostname or "127.0.0.1", parsed.port or 6379):
        missing(f"Redis is not answering at {url}")
    from soldee.celery import app

    app.control.purge()  # no message left over from an earlier test reaches this one


@pytest.fixture(autouse=True)
def _test_settings(settings, tmp_path):
    settings.MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
    # Tests read English unless they ask for another language (Accept-Language).
    settings.LANGUAGE_CODE = "en"
    # The staff second factor is tested in tests/security; elsewhere staff log in plainly.
    settings.SOLDEE_STAFF_MFA_REQUIRED = False
    # Tests talk plain http to the test client and the live server, in any mode.
    settings.SECURE_SSL_REDIRECT = False
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    settings.ACCOUNT_DEFAULT_HTTP_PROTOCOL = "http"  # links in e-mails point at the live server
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PAYMENT_GATEWAY = "sandbox"
    settings.SANDBOX_WEBHOOK_SECRET = "test-webhook-secret"
    settings.AGENT_PLATFORM_WEBHOOK_URL = ""
    # Cached pages on in every test (one process: the local-memory cache is shared by
    # the test, its tasks and the client), so every test that reads a page after a
    # change also checks that the change made the cached page stale.
    settings.SOLDEE_PAGE_CACHE = True
    settings.SOLDEE_USER_CACHE = True  # the logged-in user from the cache, dropped on save
    settings.STORAGES = {**settings.STORAGES, "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}


@pytest.fixture(autouse=True)
def _clear_cache():
    from django.core.cache import cache

    cache.clear()
    yield


@pytest.fixture
def documents(db):
    seed_initial_documents()
    from offer.services import documents_in_force

    return documents_in_force()


@pytest.fixture
def plan(db):
    return PlanFactory(code="start", name="Start", price_minor=2_990_000)


@pytest.fixture
def customer(db):
    return ProfileFactory().user


@pytest.fixture
def other_customer(db):
    return ProfileFactory().user


@pytest.fixture
def company(db):
    """A resident legal entity: it may pay by invoice (bank transfer)."""
    return ProfileFactory(kind="legal_entity", name="ТОО «Көктем Сауда»", iin_bin=VALID_BIN,
                          signatory_name="Ержанов Н.", signatory_basis="Устав", user__language="en").user


@pytest.fixture
def staff(db):
    return UserFactory(is_staff=True, is_superuser=True, email="staff@soldee.kz")


@pytest.fixture
def staff_admin(client, staff, settings):
    """The test client in the admin as `staff` (`.staff`); the admin's second factor is
    tested elsewhere."""
    settings.SOLDEE_STAFF_MFA_REQUIRED = False
    client.force_login(staff)
    client.staff = staff
    return client


@pytest.fixture
def user_without_profile(db):
    return UserFactory()


def pytest_report_header(config):
    db = os.environ.get("DATABASE_URL", "sqlite (default)")
    return [f"soldee: database={db.split('@')[-1]} broker={os.environ.get('CELERY_BROKER_URL', 'memory')} "
            f"require_all={REQUIRE_ALL}"]


def pytest_configure(config):
    # Tests never talk to a real broker unless a test asks for Redis explicitly.
    if not os.environ.get("CELERY_BROKER_URL"):
        settings.CELERY_BROKER_URL = "memory://"
    # The live server (session-scoped) builds its middleware once, before any function
    # fixture runs: plain http for it too, in any mode (TLS belongs to the proxy).
    settings.SECURE_SSL_REDIRECT = False
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False


class EnqueuedTasks:
    """Tasks sent during a test, recorded instead of going to a broker. Arguments are
    JSON round-tripped (as the real serializer would) and run only when a test says so."""

    def __init__(self):
        import threading

        self.calls = []
        self.lock = threading.Lock()  # the live server's threads record too

    def record(self, name, args, kwargs):
        with self.lock:
            self.calls.append((name, list(args or []), dict(kwargs or {})))

    def names(self):
        with self.lock:
            return [name for name, _args, _kwargs in self.calls]

    def run(self, name: str | None = None) -> int:
        import json

        from celery import current_app

        ran = 0
        while True:
            with self.lock:
                pending = [c for c in self.calls if name is None or c[0] == name]
                if not pending:
                    return ran
                call = pending[0]
                self.calls.remove(call)
            task_name, args, kwargs = call
            args, kwargs = json.loads(json.dumps(args)), json.loads(json.dumps(kwargs))
            result = current_app.tasks[task_name].apply(args=args, kwargs=kwargs)
            if result.failed() and not isinstance(result.result, Exception.__class__):
                raise result.result
            ran += 1


@pytest.fixture(autouse=True)
def enqueued(request, monkeypatch):
    """Every task sent in a test lands here (tests marked `redis` use a real broker)."""
    tasks = EnqueuedTasks()
    if request.node.get_closest_marker("redis"):
        yield tasks
        return
    from celery.app.task import Task

    def fake_apply_async(self, args=None, kwargs=None, **options):
        import json

        json.dumps([args or [], kwargs or {}])  # must be serialisable
        tasks.record(self.name, args, kwargs)

    monkeypatch.setattr(Task, "apply_async", fake_apply_async)
    yield tasks
