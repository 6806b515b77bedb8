"""Term arithmetic (offer clause 6.3: "30 calendar days from the date of payment").

The rule: a term starts at the moment of payment and ends at the same Asia/Almaty
wall-clock time 30 calendar days later. The arithmetic is done on Almaty local dates
(zoneinfo), so it stays right across month and year ends and if Kazakhstan ever moves
its clock again (it did on 2024-03-01, UTC+6 → UTC+5). Access runs while
starts_at <= now < ends_at.

Renewals: a renewal term starts at max(previous term end, renewal payment time), so a
charge made early (within the lead time) never eats the days already paid for, and a
charge that succeeds on time leaves no gap; a charge that only succeeds after the term
ended (past due) starts the new 30 days from that payment.
"""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

ALMATY = ZoneInfo("Asia/Almaty")
TERM_DAYS = 30


def term_end(start: datetime) -> datetime:
    local = start.astimezone(ALMATY)
    naive_end = local.replace(tzinfo=None) + timedelta(days=TERM_DAYS)
    return naive_end.replace(tzinfo=ALMATY).astimezone(start.tzinfo)


def renewal_term_start(*, previous_end: datetime, paid_at: datetime) -> datetime:
    return max(previous_end, paid_at)
