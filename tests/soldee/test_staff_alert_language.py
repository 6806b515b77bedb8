"""Staff alerts are written in STAFF_RECORDS_LANGUAGE (soldee.staff_language), whatever
language the request or worker that raises them has active: here a Kazakh customer's
request. The setting comes from the environment and must be one of LANGUAGES."""

import pytest
from django.core.checks import run_checks
from django.utils import timezone, translation

from soldee import checks
from tests.soldee.test_env_example import _settings

KAZAKH_LETTERS = set("әғқңөұүһіӘҒҚҢӨҰҮҺІ")


def in_russian(text: str) -> bool:
    """Cyrillic, and none of the letters Kazakh has and Russian does not."""
    return any("\u0400" <= ch <= "\u04ff" for ch in text) and not KAZAKH_LETTERS & set(text)


def in_english(text: str) -> bool:
    return not any("\u0400" <= ch <= "\u04ff" for ch in text)


def test_the_setting_comes_from_the_environment_and_is_english_by_default():
    assert _settings({})["STAFF_RECORDS_LANGUAGE"] == "'en'"
    assert _settings({"STAFF_RECORDS_LANGUAGE": ""})["STAFF_RECORDS_LANGUAGE"] == "'en'"
    assert _settings({"STAFF_RECORDS_LANGUAGE": "kk"})["STAFF_RECORDS_LANGUAGE"] == "'kk'"


@pytest.mark.parametrize("code", ["en", "ru", "kk"])
def test_a_language_of_the_portal_passes_the_check(settings, code):
    settings.STAFF_RECORDS_LANGUAGE = code
    assert checks.staff_records_language_is_offered(None) == []


def test_a_language_the_portal_does_not_have_is_refused_by_the_system_checks(settings):
    settings.STAFF_RECORDS_LANGUAGE = "xx"
    [error] = checks.staff_records_language_is_offered(None)
    assert error.id == "soldee.E010" and "'xx'" in error.msg and "ru, kk, en" in error.msg
    assert "soldee.E010" in [e.id for e in run_checks()]  # registered: manage.py check and migrate stop


@pytest.fixture
def late_grant(customer, plan, documents):
    from billing.services import payment_refresh_from_gateway
    from subscriptions.models import AccessGrant
    from tests.billing.helpers import pay_on_sandbox, start_checkout

    payment = start_checkout(None, customer, plan, documents, token="t")
    pay_on_sandbox(payment)
    payment_refresh_from_gateway(payment=payment)
    return AccessGrant.objects.get(customer=customer)


def test_the_missed_access_deadline_alert_is_in_the_staff_language_not_the_customers(
        late_grant, settings, mailoutbox):
    from subscriptions.tasks import access_breach_alert

    settings.STAFF_RECORDS_LANGUAGE = "ru"
    with translation.override("kk"):
        assert access_breach_alert.apply(args=[late_grant.pk]).successful()
        assert translation.get_language() == "kk"  # the caller's language is left as it was
    [mail] = mailoutbox
    assert in_russian(mail.subject) and late_grant.customer.email in mail.subject
    assert "Soldee staff" not in mail.subject and "Access not granted" not in mail.subject
    assert in_russian(mail.body)
    with translation.override("ru"):
        status = late_grant.get_status_display()
    assert status in mail.body  # the status label too, in Russian
    # Dates keep their unambiguous form, in Almaty time.
    assert timezone.localtime(late_grant.deadline_at).strftime("%Y-%m-%d %H:%M") in mail.body


def test_by_default_the_alert_stays_english_under_a_kazakh_request(late_grant, mailoutbox):
    from subscriptions.tasks import access_breach_alert

    with translation.override("kk"):
        assert access_breach_alert.apply(args=[late_grant.pk]).successful()
    [mail] = mailoutbox
    assert mail.subject == f"[Soldee staff] Access not granted within 30 minutes: {late_grant.customer.email}"
    assert in_english(mail.body) and "Its status: Being provisioned." in mail.body


def test_the_web_and_celery_which_run_no_system_checks_refuse_it_as_they_start(settings):
    """gunicorn and Celery run no system checks: a wrong STAFF_RECORDS_LANGUAGE started them,
    and every staff alert went out in no language anyone chose. They refuse to start, as on
    E009 (checks.refuse_at_start)."""
    import importlib
    import sys

    from celery.signals import beat_init, worker_init
    from django.core.exceptions import ImproperlyConfigured

    import soldee.celery  # noqa: F401  (connects the receivers)

    settings.STAFF_RECORDS_LANGUAGE = "xx"
    for signal in (worker_init, beat_init):  # Celery logs what a receiver raises: SystemExit stops it
        with pytest.raises(SystemExit, match="soldee.E010: STAFF_RECORDS_LANGUAGE is 'xx'"):
            signal.send(sender=None)
    sys.modules.pop("soldee.wsgi", None)
    with pytest.raises(ImproperlyConfigured, match="soldee.E010: STAFF_RECORDS_LANGUAGE is 'xx'"):
        importlib.import_module("soldee.wsgi")
    settings.STAFF_RECORDS_LANGUAGE = "kk"
    checks.refuse_at_start()  # a language of the portal starts
    sys.modules.pop("soldee.wsgi", None)
    importlib.import_module("soldee.wsgi")
