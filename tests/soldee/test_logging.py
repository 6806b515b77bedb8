"""Request warnings: a 4xx is one line, a 5xx keeps its traceback, and each is logged once."""

import logging

import pytest


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


def test_a_403_logged_with_its_exception_is_one_line_without_a_traceback(console_output):
    from django.core.exceptions import PermissionDenied

    try:
        raise PermissionDenied
    except PermissionDenied as exc:  # as Django's log_response passes it (exc_info=exception)
        logging.getLogger("django.request").warning("Forbidden (Permission denied): /admin/x/", exc_info=exc,
                                                    extra={"status_code": 403})
    assert console_output == ["WARNING django.request Forbidden (Permission denied): /admin/x/"]


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
