"""STAFF_RECORDS_LANGUAGE, the language of staff alerts and records, comes from the
environment and must be one of LANGUAGES."""

import pytest
from django.core.checks import run_checks

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
