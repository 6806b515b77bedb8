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

from .factories import PlanFactory, ProfileFactory, UserFactory

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


@pytest.fixture(autouse=True)
def _test_settings(settings, tmp_path):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PAYMENT_GATEWAY = "sandbox"
    settings.SANDBOX_WEBHOOK_SECRET = "test-webhook-secret"
    settings.AGENT_PLATFORM_WEBHOOK_URL = ""
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
