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
from subscriptions.admin import SubscriptionAdmin
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


def test_the_paid_from_and_until_columns_sort_by_the_term_in_use_they_show(
        customer, plan, documents, staff_admin, time_machine):
    """Clicking "paid from" or "paid until" sorted by the stored period: a row paid ahead
    (its stored period the next term) came after one whose term in use began later."""
    from tests.factories import ProfileFactory

    later = ProfileFactory().user
    buy(customer, plan, documents)
    time_machine.move_to(timezone.now() + timedelta(days=10), tick=False)
    buy(later, plan, documents)
    early_sub, later_sub = (Subscription.objects.get(customer=who) for who in (customer, later))
    first = Term.objects.get(subscription=early_sub, number=1)
    time_machine.move_to(first.ends_at - timedelta(hours=23), tick=False)
    assert renewals.renewals_run() == {"succeeded": 1}  # the early one is paid ahead, the later one is not
    early_sub.refresh_from_db()
    later_sub.refresh_from_db()
    assert early_sub.current_period_start > later_sub.current_period_start  # stored: the next term
    staff_admin.force_login(staff_admin.staff)

    def order(o):
        rows = staff_admin.get(f"/admin/subscriptions/subscription/?o={o}").context["cl"].result_list
        return [row.pk for row in rows]

    columns = SubscriptionAdmin.list_display
    paid_from, paid_until = columns.index("paid_from") + 1, columns.index("paid_until") + 1
    shown_order = [early_sub.pk, later_sub.pk]  # the early one's term in use began, and ends, first
    assert order(paid_from) == shown_order
    assert order(f"-{paid_from}") == shown_order[::-1]
    assert order(paid_until) == shown_order
    assert order(f"-{paid_until}") == shown_order[::-1]
    page = staff_admin.get(f"/admin/subscriptions/subscription/?o={paid_from}").content.decode()
    assert cell(page, "paid_from") == fmt(first.starts_at)  # the first row shows the early term in use


@pytest.mark.parametrize("status", [Subscription.Status.PAST_DUE, Subscription.Status.ACTIVE])
def test_the_term_in_use_subquery_follows_terms_in_force_with_the_grace(customer, plan, documents, settings,
                                                                         status):
    from django.db.models import Subquery

    from subscriptions import services

    settings.RENEWAL_GRACE_DAYS = 3
    buy(customer, plan, documents)
    sub = Subscription.objects.get(customer=customer)
    Subscription.objects.filter(pk=sub.pk).update(status=status)
    sub.refresh_from_db()
    term = Term.objects.get(subscription=sub)
    for now in (term.ends_at - timedelta(days=1), term.ends_at + timedelta(days=1), term.ends_at + timedelta(days=4)):
        found = Subscription.objects.filter(pk=sub.pk).annotate(
            in_use=Subquery(services.terms_in_use(now=now).values("pk")[:1])).get().in_use
        expected = services.terms_in_force(sub, now=now).first()
        assert found == (expected.pk if expected else None), now
