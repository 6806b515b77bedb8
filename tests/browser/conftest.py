"""Playwright harness: Debian's Chromium against pytest-django's live server.

The live server runs in a thread of this process, so the tests read
`django.core.mail.outbox` and the database directly. There is no Celery worker:
tests run the tasks they need by hand (`task.run(...)`).
"""

import os
import re
import threading
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


class TaskQueue:
    """Celery tasks the live server enqueued (there is no worker in these tests).
    `run(name)` does what a worker would: runs each queued call of that task, once."""

    def __init__(self):
        self.calls: list[tuple] = []
        self._lock = threading.Lock()

    def record(self, task, args, kwargs):
        with self._lock:
            self.calls.append((task, tuple(args or ()), dict(kwargs or {})))

    def names(self) -> list[str]:
        with self._lock:
            return [task.name for task, _args, _kwargs in self.calls]

    def run(self, name: str) -> int:
        with self._lock:
            due = [c for c in self.calls if c[0].name == name]
            self.calls = [c for c in self.calls if c[0].name != name]
        for task, args, kwargs in due:
            task.run(*args, **kwargs)
        return len(due)


@pytest.fixture
def task_queue(monkeypatch):
    from celery.app.task import Task

    queue = TaskQueue()

    def apply_async(self, args=None, kwargs=None, **options):
        queue.record(self, args, kwargs)

    monkeypatch.setattr(Task, "apply_async", apply_async)
    return queue
