"""Text written for staff in one language, STAFF_RECORDS_LANGUAGE: staff alerts and the
records kept for staff (a refund request's recommendation), whatever language is active in
the request or worker that writes them (the customer's, or LANGUAGE_CODE in a worker)."""

from contextlib import contextmanager

from django.conf import settings
from django.utils import translation


@contextmanager
def staff_language():
    """`with staff_language(): subject = _("…") % {…}` — gettext gives the staff's language
    inside, the caller's again after. Reads the setting each time (override_settings works)."""
    with translation.override(settings.STAFF_RECORDS_LANGUAGE):
        yield
