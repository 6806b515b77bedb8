"""Request warnings: a 4xx is one line, a 5xx keeps its traceback, and each is logged once."""

import logging

import pytest
from django.test import Client


@pytest.fixture
def console_output(settings):
    """The lines the console handler (the root's) writes while the test runs."""
    from soldee.logging import ClientErrorsWithoutTraceback

    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record):
            lines.append(self.format(record))

    handler = Collect()
    handler.addFilter(ClientErrorsWithoutTraceback())
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    yield lines
    root.removeHandler(handler)


@pytest.mark.django_db
def test_a_staff_403_is_one_line_without_a_traceback(console_output, settings):
    from tests.factories import UserFactory

    settings.SOLDEE_STAFF_MFA_REQUIRED = False
    browser = Client()
    browser.force_login(UserFactory(is_staff=True))  # staff without the permission: 403
    assert browser.get("/admin/refunds/refund/add/").status_code == 403
    warnings = [line for line in console_output if "django.request" in line]
    assert warnings and not any("Traceback" in line for line in console_output)


def test_a_server_error_keeps_its_traceback(console_output):
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("django.request").error("Internal Server Error: /x", exc_info=True,
                                                  extra={"status_code": 500})
    assert any("Traceback" in line and "boom" in line for line in console_output)


def test_django_warnings_reach_the_console_once(settings):
    django_logger = logging.getLogger("django")
    assert django_logger.handlers == [] and django_logger.propagate
