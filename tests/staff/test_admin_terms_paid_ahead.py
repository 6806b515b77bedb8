"""Staff read the admin truly once a term is paid ahead: the subscriptions list shows the
term in use (and that the next is paid), the payments list the real purpose of an invoice
that paid the next term."""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import formats, timezone

from billing import documents as billing_documents
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


def test_an_invoice_that_paid_the_next_term_reads_as_a_renewal_in_the_payments_admin(
        company, plan, documents, staff, staff_admin, django_capture_on_commit_callbacks, time_machine):
    def pay_invoice():
        invoice = billing_documents.invoice_issue(customer=company, plan=plan)
        with django_capture_on_commit_callbacks(execute=True):
            return billing_documents.invoice_mark_paid(invoice_id=invoice.pk, by=staff)

    first = pay_invoice()
    time_machine.move_to(Term.objects.get(payment=first).ends_at - timedelta(days=2), tick=False)
    second = pay_invoice()  # the next term, paid ahead (subscriptions.renewals.renewal_by_invoice)
    assert Term.objects.get(payment=second).number == 2
    staff_admin.force_login(staff_admin.staff)
    with CaptureQueriesContext(connection) as queries:
        page = staff_admin.get("/admin/billing/payment/").content.decode()
    assert sum("subscriptions_renewalattempt" in q["sql"] for q in queries.captured_queries) == 1  # the page at once
    purposes = dict(re.findall(r'/admin/billing/payment/(\d+)/change/.*?class="field-purpose_label[ "][^>]*>(.*?)</td>',
                               page, re.S))
    assert purposes == {str(first.pk): "Purchase", str(second.pk): "Renewal"}  # found by staff: both "Purchase"
    change = staff_admin.get(f"/admin/billing/payment/{second.pk}/change/").content.decode()
    assert re.search(r'field-purpose_label.*?<div class="readonly">Renewal</div>', change, re.S)
    assert re.search(r'field-purpose_label.*?<div class="readonly">Purchase</div>', staff_admin.get(
        f"/admin/billing/payment/{first.pk}/change/").content.decode(), re.S)
    # The purpose filter finds them where the column puts them (found by the admin-lists helper).
    found = {label: {p.pk for p in staff_admin.get(f"/admin/billing/payment/?purpose={code}").context["cl"].result_list}
             for label, code in (("Purchase", "subscription.checkout"), ("Renewal", "subscription.renewal"))}
    assert found == {"Purchase": {first.pk}, "Renewal": {second.pk}}


def test_the_subscriptions_list_reads_the_terms_in_use_of_a_page_in_one_query(
        customer, plan, documents, staff_admin, time_machine):
    """Each row paid ahead asked the database for its term in use (an N+1 query on the
    list, where every renewal is paid ahead for its last day)."""
    from tests.factories import ProfileFactory

    customers = [customer, ProfileFactory().user, ProfileFactory().user]
    for who in customers:
        buy(who, plan, documents)
    firsts = {t.subscription.customer_id: t for t in Term.objects.filter(number=1).select_related("subscription")}
    time_machine.move_to(max(t.ends_at for t in firsts.values()) - timedelta(hours=23), tick=False)
    assert renewals.renewals_run() == {"succeeded": 3}
    staff_admin.force_login(staff_admin.staff)
    with CaptureQueriesContext(connection) as queries:
        page = staff_admin.get("/admin/subscriptions/subscription/").content.decode()
    assert sum('FROM "subscriptions_term"' in q["sql"] for q in queries.captured_queries) == 1
    assert page.count("paid ahead to") == 3
    for who in customers:  # each row still shows its own term in use
        assert fmt(firsts[who.pk].starts_at) in page and fmt(firsts[who.pk].ends_at) in page
