"""Playwright harness: Debian's Chromium against pytest-django's live server.

The live server runs in a thread of this process, so the tests read
`django.core.mail.outbox` and the database directly. There is no Celery worker:
tests run the tasks they need by hand (`task.run(...)`).
"""

import os
import re
from pathlib import Path

import pytest

# Playwright's sync API keeps an event loop running in this thread; Django refuses
# ORM calls from a thread with a running loop unless told otherwise.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def _missing(reason: str):
    """tests.conftest.missing, replicated (importlib mode cannot import it)."""
    if os.environ.get("SOLDEE_REQUIRE_ALL") == "1":
        pytest.fail(f"required infrastructure missing (SOLDEE_REQUIRE_ALL=1): {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        _missing(f"needs Chromium at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("needs the playwright Python package")
    pw = sync_playwright().start()
    try:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
    except Exception as exc:
        pw.stop()
        _missing(f"Chromium at {CHROMIUM} did not start: {exc}")
    yield browser
    browser.close()
    pw.stop()


@pytest.fixture
def site(live_server, settings, transactional_db):
    """The live server, with the URLs the gateway redirects to pointing at it."""
    settings.SITE_URL = live_server.url
    settings.SANDBOX_WEBHOOK_URL = live_server.url + "/billing/webhooks/sandbox/"
    return live_server


def _artifact_dir(request) -> Path:
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
    path = ARTIFACTS / name
    path.mkdir(parents=True, exist_ok=True)
    for old in path.glob("*.png"):
        old.unlink()
    return path


@pytest.fixture
def page(browser, site, request):
    context = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.soldee_artifacts = _artifact_dir(request)
    page.soldee_shots = 0
    csp, errors = [], []

    def on_console(message):
        text = message.text
        if "Content Security Policy" in text:
            csp.append(f"{page.url}: {text}")
        elif message.type == "error" and not message.location.get("url", "").endswith("/favicon.ico"):
            errors.append(f"{page.url}: {text}")

    page.on("console", on_console)
    page.on("pageerror", lambda exc: errors.append(f"{page.url}: uncaught {exc}"))
    yield page
    try:
        if csp or errors:
            shot(page, "teardown-with-errors")
    finally:
        context.close()
    assert not csp, "Content Security Policy violations:\n" + "\n".join(csp)
    assert not errors, "browser console errors:\n" + "\n".join(errors)


def shot(page, name: str) -> Path:
    """Save a full-page screenshot as test-artifacts/browser/<test>/NN-name.png."""
    page.soldee_shots += 1
    path = page.soldee_artifacts / f"{page.soldee_shots:02d}-{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


@pytest.fixture(name="shot")
def shot_fixture():
    """`shot(page, name)` for the test modules (they cannot import this conftest)."""
    return shot


@pytest.fixture
def task_queue(enqueued):
    """Celery tasks the live server enqueued (there is no worker in these tests): the
    suite-wide `enqueued` recorder; `run(name)` does what a worker would."""
    return enqueued
