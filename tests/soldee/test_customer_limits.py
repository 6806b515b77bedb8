"""The per-customer allowance's day is the Almaty calendar day (soldee/limits.py): it turns
at midnight in Almaty, not at midnight UTC (05:00 in Almaty)."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.core.cache import cache

from soldee import limits

ALMATY = ZoneInfo("Asia/Almaty")


@pytest.fixture(autouse=True)
def _day_limit(settings):
    settings.SOLDEE_CUSTOMER_LIMITS = {"error_report": [(10, 3600), (3, 86400)]}
    cache.clear()
    yield
    cache.clear()


def file_at(time_machine, hour, minute, day=14):
    time_machine.move_to(datetime(2025, 5, day, hour, minute, tzinfo=ALMATY), tick=False)
    limits.count("error_report", 1)


def test_the_day_allowance_is_whole_again_after_midnight_in_almaty(time_machine):
    for minute in (40, 45, 50):  # 23:40-23:50 Almaty = 18:40-18:50 UTC
        file_at(time_machine, 23, minute)
    assert limits.used_up("error_report", 1)
    time_machine.move_to(datetime(2025, 5, 15, 0, 5, tzinfo=ALMATY), tick=False)  # 19:05 UTC, same UTC day
    assert not limits.used_up("error_report", 1)
    assert not limits.used_up("error_report", 2)


def test_the_day_allowance_does_not_turn_at_midnight_utc(time_machine):
    for minute in (10, 20, 30):  # 02:10-02:30 Almaty, 14 May (21:10 UTC, 13 May)
        file_at(time_machine, 2, minute)
    time_machine.move_to(datetime(2025, 5, 14, 5, 30, tzinfo=ALMATY), tick=False)  # 00:30 UTC, 14 May
    assert limits.used_up("error_report", 1)
    time_machine.move_to(datetime(2025, 5, 14, 23, 59, tzinfo=ALMATY), tick=False)
    assert limits.used_up("error_report", 1)
    time_machine.move_to(datetime(2025, 5, 15, 0, 0, tzinfo=ALMATY), tick=False)
    assert not limits.used_up("error_report", 1)


def test_the_hour_allowance_holds_across_midnight(settings, time_machine):
    settings.SOLDEE_CUSTOMER_LIMITS = {"error_report": [(2, 3600), (30, 86400)]}
    file_at(time_machine, 23, 58)
    file_at(time_machine, 23, 59)
    assert limits.used_up("error_report", 1)
    time_machine.move_to(datetime(2025, 5, 15, 0, 1, tzinfo=ALMATY), tick=False)
    assert not limits.used_up("error_report", 1)  # a new clock hour in Almaty
    time_machine.move_to(datetime(2025, 5, 14, 23, 59, 30, tzinfo=ALMATY), tick=False)
    assert limits.used_up("error_report", 1)
