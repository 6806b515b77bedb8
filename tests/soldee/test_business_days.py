"""Kazakhstan business days for refund deadlines.

I worked out every expected date by hand from a printed calendar and checked it against
``holidays==0.108`` (``country_holidays("KZ")``). The package gives:
2024: Mar 8 (Fri). 2025: Jan 1-2, Jan 3 (off, substituted from Sun Jan 5, a working day),
Jan 7, Mar 10 (observed), Mar 21, Mar 24-25 (observed). 2026: Jan 1-2, Jan 7, Mar 9 (observed),
Mar 23, Mar 24-25 (observed: Nauryz 21/22 fell on Sat/Sun), May 1, May 7, May 11 (observed),
May 27 (Eid al-Adha, estimated), Jul 6, Oct 26 (observed), Dec 16.
No Django needed.
"""

from datetime import UTC, date, datetime, timedelta

import pytest

from soldee import business_days as bd
from soldee.business_days import ALMATY, Calendar

END = (23, 59, 59, 999999)


@pytest.fixture
def cal() -> Calendar:
    return Calendar()


@pytest.fixture(autouse=True)
def _reset_provider():
    previous = bd._provider
    bd.set_exceptions_provider(None)
    yield
    bd.set_exceptions_provider(previous)


def almaty_end(y: int, m: int, d: int) -> datetime:
    return datetime(y, m, d, *END, tzinfo=ALMATY)


# --- plain weeks -----------------------------------------------------------------------


def test_plain_weekdays(cal: Calendar) -> None:
    # April 2026 has no holidays. Mon 6 -> Tue 7, Wed 8, Thu 9, Fri 10, Mon 13.
    assert cal.add_business_days(date(2026, 4, 6), 5) == date(2026, 4, 13)
    assert cal.add_business_days(date(2026, 4, 14), 1) == date(2026, 4, 15)
    assert cal.add_business_days(date(2026, 4, 14), 0) == date(2026, 4, 14)
    assert cal.is_business_day(date(2026, 4, 8))
    assert not cal.is_business_day(date(2026, 4, 11))  # Saturday
    assert not cal.is_business_day(date(2026, 4, 12))  # Sunday


def test_report_on_friday_is_next_friday(cal: Calendar) -> None:
    assert cal.add_business_days(date(2026, 4, 10), 5) == date(2026, 4, 17)


def test_report_on_weekend_counts_from_its_own_date(cal: Calendar) -> None:
    # Sat 11 is day 0 -> Mon 13 (1) ... Fri 17 (5).
    assert cal.add_business_days(date(2026, 4, 11), 5) == date(2026, 4, 17)


def test_negative_n_rejected(cal: Calendar) -> None:
    with pytest.raises(ValueError):
        cal.add_business_days(date(2026, 4, 6), -1)


# --- public holidays ---------------------------------------------------------------------


def test_nauryz_2026_with_weekend_transfer(cal: Calendar) -> None:
    # Sat 21, Sun 22, Mon 23 are Nauryz; 21/22 fall on a weekend -> Tue 24, Wed 25 off.
    for day in (21, 22, 23, 24, 25):
        assert not cal.is_business_day(date(2026, 3, day)), day
    assert cal.is_business_day(date(2026, 3, 20))
    assert cal.is_business_day(date(2026, 3, 26))
    # Thu 19 -> Fri 20 (1), Thu 26 (2), Fri 27 (3), Mon 30 (4), Tue 31 (5).
    assert cal.add_business_days(date(2026, 3, 19), 5) == date(2026, 3, 31)


def test_nauryz_2025(cal: Calendar) -> None:
    # Fri 21 + observed Mon 24, Tue 25 (for Sat 22, Sun 23).
    # Thu 20 -> Wed 26, Thu 27, Fri 28, Mon 31, Tue Apr 1.
    assert cal.add_business_days(date(2025, 3, 20), 5) == date(2025, 4, 1)


def test_womens_day_on_sunday_2026_moves_to_monday(cal: Calendar) -> None:
    assert not cal.is_business_day(date(2026, 3, 9))
    # Fri 6 -> Tue 10, Wed 11, Thu 12, Fri 13, Mon 16.
    assert cal.add_business_days(date(2026, 3, 6), 5) == date(2026, 3, 16)


def test_new_year_2026(cal: Calendar) -> None:
    # Wed 31 Dec -> Jan 1, 2 off; Mon 5 (1), Tue 6 (2), Wed 7 Orthodox Christmas off,
    # Thu 8 (3), Fri 9 (4), Mon 12 (5).
    assert cal.add_business_days(date(2025, 12, 31), 5) == date(2026, 1, 12)


def test_new_year_2025_with_package_transfer(cal: Calendar) -> None:
    # Package: Fri 2025-01-03 is a day off substituted from Sun 2025-01-05 (a working day).
    assert not cal.is_business_day(date(2025, 1, 3))
    assert cal.is_business_day(date(2025, 1, 5))
    # Tue 31 Dec -> Sun 5 (1), Mon 6 (2), Tue 7 off, Wed 8 (3), Thu 9 (4), Fri 10 (5).
    assert cal.add_business_days(date(2024, 12, 31), 5) == date(2025, 1, 10)


def test_other_2026_holidays(cal: Calendar) -> None:
    for d in (
        date(2026, 5, 1),
        date(2026, 5, 7),
        date(2026, 5, 11),
        date(2026, 7, 6),
        date(2026, 10, 26),
        date(2026, 12, 16),
    ):
        assert not cal.is_business_day(d), d


# --- staff exceptions --------------------------------------------------------------------


def test_extra_working_saturday() -> None:
    cal = Calendar(extra_working_days=[date(2026, 4, 18)])
    assert cal.is_business_day(date(2026, 4, 18))
    # Thu 16 -> Fri 17 (1), Sat 18 (2), Mon 20 (3), Tue 21 (4), Wed 22 (5).
    assert cal.add_business_days(date(2026, 4, 16), 5) == date(2026, 4, 22)


def test_extra_day_off() -> None:
    cal = Calendar(extra_days_off=[date(2026, 4, 20)])
    assert not cal.is_business_day(date(2026, 4, 20))
    # Thu 16 -> Fri 17 (1), Tue 21 (2), Wed 22 (3), Thu 23 (4), Fri 24 (5).
    assert cal.add_business_days(date(2026, 4, 16), 5) == date(2026, 4, 24)


def test_transfer_saturday_to_monday() -> None:
    cal = Calendar(extra_days_off={date(2026, 4, 20)}, extra_working_days={date(2026, 4, 18)})
    # Thu 16 -> Fri 17, Sat 18, Tue 21, Wed 22, Thu 23.
    assert cal.add_business_days(date(2026, 4, 16), 5) == date(2026, 4, 23)
    assert cal.business_days_between(date(2026, 4, 16), date(2026, 4, 23)) == 5


def test_extra_working_day_wins_over_package_holiday() -> None:
    assert Calendar(extra_working_days=[date(2026, 3, 25)]).is_business_day(date(2026, 3, 25))


# --- deadlines and time zones ------------------------------------------------------------


def test_deadline_is_end_of_day_in_almaty(cal: Calendar) -> None:
    deadline = cal.deadline_after(datetime(2026, 4, 6, 10, 0, tzinfo=ALMATY))
    assert deadline == almaty_end(2026, 4, 13)
    assert deadline.tzinfo == ALMATY
    assert deadline.utcoffset() == timedelta(hours=5)
    assert (deadline.hour, deadline.minute, deadline.second, deadline.microsecond) == END
    assert deadline.astimezone(UTC) == datetime(2026, 4, 13, 18, 59, 59, 999999, tzinfo=UTC)


def test_late_night_utc_is_next_day_in_almaty(cal: Calendar) -> None:
    # Thu 2026-04-09 20:30 UTC = Fri 2026-04-10 01:30 Almaty (UTC+5): day 0 is Friday.
    assert cal.deadline_after(datetime(2026, 4, 9, 20, 30, tzinfo=UTC)) == almaty_end(2026, 4, 17)
    # 18:59 UTC is still Thu 23:59 in Almaty -> Fri, Mon, Tue, Wed, Thu 16.
    assert cal.deadline_after(datetime(2026, 4, 9, 18, 59, tzinfo=UTC)) == almaty_end(2026, 4, 16)
    assert cal.deadline_after(datetime(2026, 4, 9, 19, 0, tzinfo=UTC)) == almaty_end(2026, 4, 17)


def test_historical_utc_plus_6(cal: Calendar) -> None:
    # Before 2024-03-01 Almaty was UTC+6: Mon 2024-01-15 18:30 UTC = Tue 00:30 Almaty.
    deadline = cal.deadline_after(datetime(2024, 1, 15, 18, 30, tzinfo=UTC))
    assert deadline == almaty_end(2024, 1, 23)  # Wed 17, Thu 18, Fri 19, Mon 22, Tue 23
    assert deadline.utcoffset() == timedelta(hours=6)


def test_deadline_across_nauryz_and_custom_n(cal: Calendar) -> None:
    moment = datetime(2026, 3, 19, 9, 0, tzinfo=ALMATY)
    assert cal.deadline_after(moment) == almaty_end(2026, 3, 31)
    assert cal.deadline_after(moment, 1) == almaty_end(2026, 3, 20)
    assert cal.deadline_after(moment, 2) == almaty_end(2026, 3, 26)


def test_naive_datetime_rejected(cal: Calendar) -> None:
    with pytest.raises(ValueError):
        cal.deadline_after(datetime(2026, 4, 9, 12, 0))


# --- counting, provider, cache ---------------------------------------------------------


def test_business_days_between(cal: Calendar) -> None:
    assert cal.business_days_between(date(2026, 3, 19), date(2026, 3, 31)) == 5
    assert cal.business_days_between(date(2026, 4, 10), date(2026, 4, 13)) == 1
    assert cal.business_days_between(date(2026, 4, 11), date(2026, 4, 12)) == 0
    assert cal.business_days_between(date(2026, 4, 13), date(2026, 4, 13)) == 0
    assert cal.business_days_between(date(2026, 4, 13), date(2026, 4, 6)) == 0
    assert cal.business_days_between(date(2025, 12, 31), date(2026, 1, 12)) == 5


def test_default_provider_has_no_exceptions() -> None:
    cal = bd.default_calendar()
    assert cal.extra_days_off == frozenset()
    assert cal.extra_working_days == frozenset()
    assert bd.add_business_days(date(2026, 4, 16), 5) == date(2026, 4, 23)


def test_registered_provider_is_used() -> None:
    bd.set_exceptions_provider(lambda: ([date(2026, 4, 20)], [date(2026, 4, 18)]))
    assert bd.is_business_day(date(2026, 4, 18))
    assert not bd.is_business_day(date(2026, 4, 20))
    assert bd.add_business_days(date(2026, 4, 16), 2) == date(2026, 4, 18)
    assert bd.business_days_between(date(2026, 4, 16), date(2026, 4, 21)) == 3
    assert bd.deadline_after(datetime(2026, 4, 16, 12, tzinfo=ALMATY)) == almaty_end(2026, 4, 23)
    bd.set_exceptions_provider(None)
    assert not bd.is_business_day(date(2026, 4, 18))


def test_holiday_sets_cached_per_year(monkeypatch: pytest.MonkeyPatch) -> None:
    bd.kz_year.cache_clear()
    calls: list[object] = []
    real = bd.holidays.country_holidays

    def counting(*args: object, **kwargs: object):
        calls.append(kwargs.get("years"))
        return real(*args, **kwargs)

    monkeypatch.setattr(bd.holidays, "country_holidays", counting)
    cal = Calendar()
    cal.add_business_days(date(2026, 3, 19), 5)
    cal.add_business_days(date(2026, 4, 6), 5)
    assert calls == [(2026, 2027)]
    bd.kz_year.cache_clear()
