"""Rows named in the admin (inline terms, drop-downs, confirmation lists) carry Almaty dates:
a term paid at 01:00 Almaty on 1 November is not labelled 31 October."""

from datetime import datetime, timedelta

import pytest

from soldee.business_days import ALMATY
from subscriptions.models import Term

pytestmark = pytest.mark.django_db


def test_a_term_is_labelled_with_its_almaty_dates():
    start = datetime(2026, 11, 1, 1, 0, tzinfo=ALMATY)  # 31 October 20:00 UTC
    term = Term(subscription_id=7, number=2, starts_at=start, ends_at=start + timedelta(days=30))
    assert str(term) == "7 #2 2026-11-01–2026-12-01"
