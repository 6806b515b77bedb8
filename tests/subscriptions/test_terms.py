from datetime import UTC, datetime, timedelta

import pytest

from subscriptions.terms import ALMATY, renewal_term_start, term_end


@pytest.mark.parametrize(
    ("paid_local", "end_local"),
    [
        # across a month end (31-day month)
        (datetime(2026, 1, 15, 10, 30), datetime(2026, 2, 14, 10, 30)),
        # across February in a common year
        (datetime(2026, 2, 10, 9, 0), datetime(2026, 3, 12, 9, 0)),
        # across February in a leap year
        (datetime(2028, 2, 10, 9, 0), datetime(2028, 3, 11, 9, 0)),
        # across the year end
        (datetime(2026, 12, 20, 23, 59), datetime(2027, 1, 19, 23, 59)),
        # paid just after midnight Almaty (still the previous day in UTC)
        (datetime(2026, 3, 31, 0, 15), datetime(2026, 4, 30, 0, 15)),
    ],
)
def test_a_term_ends_thirty_calendar_days_later_at_the_same_almaty_time(paid_local, end_local):
    paid = paid_local.replace(tzinfo=ALMATY).astimezone(UTC)
    assert term_end(paid).astimezone(ALMATY).replace(tzinfo=None) == end_local


def test_a_term_across_kazakhstans_2024_clock_change_keeps_the_wall_clock_time():
    # On 2024-03-01 Almaty moved from UTC+6 to UTC+5: 30 calendar days are 30*24+1 hours.
    paid = datetime(2024, 2, 15, 12, 0, tzinfo=ALMATY)
    end = term_end(paid.astimezone(UTC))
    assert end.astimezone(ALMATY).replace(tzinfo=None) == datetime(2024, 3, 16, 12, 0)
    assert end - paid == timedelta(days=30, hours=1)


def test_a_renewal_paid_early_starts_at_the_previous_end_and_a_late_one_at_payment():
    end = datetime(2026, 5, 1, 12, tzinfo=UTC)
    assert renewal_term_start(previous_end=end, paid_at=end - timedelta(days=1)) == end
    assert renewal_term_start(previous_end=end, paid_at=end + timedelta(days=2)) == end + timedelta(days=2)
