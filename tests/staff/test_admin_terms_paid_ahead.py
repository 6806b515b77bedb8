"""Staff read the admin truly once a term is paid ahead: the subscriptions list shows the
term in use (and that the next is paid), the payments list the real purpose of an invoice
that paid the next term."""

import re
from datetime import timedelta

import pytest
from django.utils import formats, timezone

from subscriptions import renewals
from subscriptions.models import Subscription, Term
from tests.billing.helpers import buy

pytestmark = pytest.mark.django_db


def fmt(moment) -> str:
    return formats.date_format(timezone.localtime(moment), "DATETIME_FORMAT")


def cell(page: str, column: str) -> str:
    return re.search(rf'class="field-{column}[ "][^>]*>(.*?)</t[dh]>', page, re.S).group(1)


def test_the_subscriptions_list_shows_the_term_in_use_and_that_the_next_is_paid_ahead(
        customer, plan, documents, staff_admin, time_machine):
    buy(customer, plan, documents)
    sub = Subscription.objects.get(customer=customer)
    first = Term.objects.get(subscription=sub, number=1)
    time_machine.move_to(first.ends_at - timedelta(hours=23), tick=False)
    assert renewals.renewals_run() == {"succeeded": 1}  # the saved card is charged a day ahead
    second = Term.objects.get(subscription=sub, number=2)
    staff_admin.force_login(staff_admin.staff)
    page = staff_admin.get("/admin/subscriptions/subscription/").content.decode()
    row = re.search(r'<tr>\s*<td class="action-checkbox">.*?</tr>', page, re.S).group(0)
    assert fmt(first.starts_at) in row and "paid ahead to" in row  # found by staff: the next term was shown
    assert cell(page, "paid_from") == fmt(first.starts_at)  # not the next term's start
    assert cell(page, "paid_until") == f"{fmt(first.ends_at)}<br>paid ahead to {fmt(second.ends_at)}"

    time_machine.move_to(first.ends_at + timedelta(minutes=1), tick=False)  # the next term has begun
    staff_admin.force_login(staff_admin.staff)
    page = staff_admin.get("/admin/subscriptions/subscription/").content.decode()
    assert cell(page, "paid_from") == fmt(second.starts_at)
    assert cell(page, "paid_until") == fmt(second.ends_at) and "paid ahead" not in page
