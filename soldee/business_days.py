"""Kazakhstan business-day calendar for refund deadlines (Public Offer, clause 7).

A critical error counts as "not resolved within 5 business days" after this rule:

* The report moment is converted to Asia/Almaty (UTC+6 before 2024-03-01, UTC+5 since;
  the zone database knows both). Its Almaty calendar date is **day 0**, even when it is
  a weekend or holiday.
* Business days are counted strictly after day 0. The deadline is the **end** of the
  5th business day: 23:59:59.999999 Almaty time. Friday + 5 = next Friday (no holidays).
* A business day is Monday-Friday that is not a public holiday of Kazakhstan, or a
  weekend day the state made a working day by a transfer.
  Holidays come from ``holidays.country_holidays("KZ")``. That covers fixed holidays,
  "(observed)" days (a holiday on Sat/Sun moves the day off to the next working day),
  "Day off (substituted from ...)" transfers, and their working weekend days
  (``weekend_workdays``). The package knows transfers up to 2025 only. It estimates
  Eid al-Adha after 2025.
* Staff exceptions override the package. ``extra_days_off`` holds days off the package
  does not know. ``extra_working_days`` holds working weekend days, for example a
  transferred Saturday. A date in ``extra_working_days`` is always a business day.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

ALMATY = ZoneInfo("Asia/Almaty")
REFUND_BUSINESS_DAYS = 5

ExceptionsProvider = Callable[[], tuple[Iterable[date], Iterable[date]]]


@lru_cache(maxsize=64)
def kz_year(year: int) -> tuple[frozenset[date], frozenset[date]]:
    """Return ``(days_off, working_weekend_days)`` of *year* per the ``holidays`` package.

    Year ``year + 1`` is also loaded, because a transfer decree can take a working
    weekend day from the previous year (e.g. 2014-01-03 was off for 2013-12-28).
    """
    kz = holidays.country_holidays("KZ", years=(year, year + 1))
    days_off = frozenset(d for d in kz if d.year == year)
    workdays = frozenset(d for d in kz.weekend_workdays if d.year == year)
    return days_off, workdays


class Calendar:
    """Kazakhstan working-day calendar with staff-editable exceptions."""

    def __init__(
        self,
        extra_days_off: Iterable[date] = (),
        extra_working_days: Iterable[date] = (),
    ) -> None:
        self.extra_days_off: frozenset[date] = frozenset(extra_days_off)
        self.extra_working_days: frozenset[date] = frozenset(extra_working_days)

    def is_business_day(self, d: date) -> bool:
        """Whether people work on *d* in Kazakhstan. Staff exceptions take precedence."""
        if d in self.extra_working_days:
            return True
        if d in self.extra_days_off:
            return False
        days_off, working_weekends = kz_year(d.year)
        if d.weekday() >= 5:
            return d in working_weekends
        return d not in days_off

    def add_business_days(self, start: date, n: int) -> date:
        """Return the *n*-th business day strictly after *start* (*start* itself for n=0)."""
        if n < 0:
            raise ValueError("n must be >= 0")
        d = start
        while n:
            d += timedelta(days=1)
            if self.is_business_day(d):
                n -= 1
        return d

    def business_days_between(self, a: date, b: date) -> int:
        """Count business days in the half-open interval (a, b]. Returns 0 when b <= a."""
        return sum(self.is_business_day(a + timedelta(days=i)) for i in range(1, (b - a).days + 1))

    def deadline_after(self, moment: datetime, n: int = REFUND_BUSINESS_DAYS) -> datetime:
        """Return the end of the *n*-th business day after *moment*'s Almaty date, in Almaty."""
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise ValueError("moment must be timezone-aware")
        day0 = moment.astimezone(ALMATY).date()
        return datetime.combine(self.add_business_days(day0, n), time.max, tzinfo=ALMATY)


def _no_exceptions() -> tuple[Iterable[date], Iterable[date]]:
    return (), ()


_provider: ExceptionsProvider = _no_exceptions


def set_exceptions_provider(provider: ExceptionsProvider | None) -> None:
    """Register a callable that returns ``(extra_days_off, extra_working_days)``.

    Pass ``None`` to go back to no exceptions. The provider runs on every
    ``default_calendar()`` call, so a database-backed provider sees staff edits immediately.
    """
    global _provider
    _provider = provider or _no_exceptions


def default_calendar() -> Calendar:
    """Build a ``Calendar`` from the exceptions of the registered provider."""
    days_off, working_days = _provider()
    return Calendar(days_off, working_days)


def is_business_day(d: date) -> bool:
    """Check *d* with ``default_calendar()``."""
    return default_calendar().is_business_day(d)


def add_business_days(start: date, n: int) -> date:
    """Add *n* business days with ``default_calendar()``."""
    return default_calendar().add_business_days(start, n)


def business_days_between(a: date, b: date) -> int:
    """Count business days in (a, b] with ``default_calendar()``."""
    return default_calendar().business_days_between(a, b)


def deadline_after(moment: datetime, n: int = REFUND_BUSINESS_DAYS) -> datetime:
    """Return the deadline after *moment* with ``default_calendar()``."""
    return default_calendar().deadline_after(moment, n)
