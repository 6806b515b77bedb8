"""The staff dashboard: every number matches the rows it counts, at a fixed moment."""

import re
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
import time_machine

from billing.models import Payment
from refunds.models import ErrorReport, Refund, RefundRequest
from soldee import dashboard
from soldee.business_days import ALMATY
from subscriptions.models import AccessGrant, RenewalAttempt, Subscription, Term
from tests.factories import PlanFactory, ProfileFactory, UserFactory

pytestmark = pytest.mark.django_db

# Wednesday 18 March 2026, 12:00 Almaty: ISO week 2026-W12 (Monday 16 March).
NOW = datetime(2026, 3, 18, 12, 0, tzinfo=ALMATY)
URL = "/admin/dashboard/"


def at(y, m, d, hh=12, mm=0):
    return datetime(y, m, d, hh, mm, tzinfo=ALMATY)


_seq = iter(range(10_000))


def pay(customer, *, amount=2_990_000, currency="KZT", kzt=None, status="succeeded", paid_at=NOW):
    n = next(_seq)
    return Payment.objects.create(
        customer=customer, purpose="test", description="Soldee — Start, 30 days", amount_minor=amount,
        currency=currency, kzt_amount_minor=kzt or amount, status=status, idempotency_key=f"dash-{n}",
        gateway="sandbox", paid_at=paid_at if status == "succeeded" else None)


def subscription(plan, *, status="active", created=NOW, ended=None, reason=""):
    customer = ProfileFactory().user
    start = (ended or NOW) - timedelta(days=10)
    sub = Subscription.objects.create(customer=customer, plan=plan, status=status, current_period_start=start,
                                      current_period_end=start + timedelta(days=30), ended_at=ended,
                                      end_reason=reason, auto_renew=status != "ended")
    Subscription.objects.filter(pk=sub.pk).update(created_at=created)
    return sub


@pytest.fixture
def data(db):
    start, pro = PlanFactory(code="start", price_minor=2_990_000), PlanFactory(code="pro", price_minor=5_000_000)
    live = [
        subscription(start, created=at(2026, 3, 16, 0, 5)),            # W12 (Monday just after midnight)
        subscription(start, created=at(2026, 3, 17)),                  # W12
        subscription(pro, created=at(2026, 3, 15, 23, 55)),            # W11 (Sunday night)
        subscription(start, status="past_due", created=at(2026, 1, 5)),  # before the 8 weeks
    ]
    subscription(start, status="ended", created=at(2025, 12, 1), ended=at(2026, 3, 17), reason="cancelled")
    subscription(start, status="ended", created=at(2025, 12, 1), ended=at(2026, 3, 10), reason="refunded")
    subscription(start, status="ended", created=at(2025, 12, 1), ended=at(2026, 3, 9, 0, 30), reason="lapsed")
    subscription(start, status="ended", created=at(2025, 12, 1), ended=at(2026, 3, 8, 23, 30), reason="lapsed")
    subscription(start, status="ended", created=at(2025, 12, 1), ended=at(2026, 1, 2), reason="cancelled")
    # ISO week 2026-W05 starts Monday 26 January: the oldest week shown.
    subscription(start, status="ended", created=at(2025, 12, 1), ended=at(2026, 1, 26, 0, 0), reason="cancelled")

    # Renewal attempts: 3 succeeded + 1 declined in the last 30 days; older and in-flight ones do not count.
    sub = live[0]
    for i, (status, finished) in enumerate([("succeeded", NOW - timedelta(days=1)),
                                            ("succeeded", NOW - timedelta(days=29)),
                                            ("succeeded", NOW - timedelta(hours=1)),
                                            ("declined", NOW - timedelta(days=3)),
                                            ("succeeded", NOW - timedelta(days=31)),
                                            ("charging", None)]):
        RenewalAttempt.objects.create(subscription=sub, term_number=2 + i, attempt_no=1, status=status,
                                      finished_at=finished, payment=pay(sub.customer, status="processing"))
    # Neither staff's extra tries nor the "declines" that asked no card count.
    RenewalAttempt.objects.create(subscription=sub, term_number=20, attempt_no=1, status="declined",
                                  kind=RenewalAttempt.Kind.STAFF, finished_at=NOW - timedelta(days=2),
                                  payment=pay(sub.customer, status="processing"))
    no_card = pay(sub.customer, status="processing")
    Payment.objects.filter(pk=no_card.pk).update(status="failed", failure_code="no_saved_card")
    RenewalAttempt.objects.create(subscription=sub, term_number=21, attempt_no=1, status="declined",
                                  finished_at=NOW - timedelta(days=2), payment=no_card)
    left_page = pay(sub.customer, status="processing")
    Payment.objects.filter(pk=left_page.pk).update(status="expired")  # a payment page replaced by a newer one
    RenewalAttempt.objects.create(subscription=sub, term_number=22, attempt_no=1, status="declined",
                                  kind=RenewalAttempt.Kind.CUSTOMER, finished_at=NOW - timedelta(days=2),
                                  payment=left_page)

    # Access grants: one breach 2 days ago, one 40 days ago, one never breached.
    for n, breached in enumerate([NOW - timedelta(days=2), NOW - timedelta(days=40), None]):
        s = live[1]
        p = pay(s.customer)
        term = Term.objects.create(subscription=s, payment=p, plan=s.plan, number=n + 1,
                                   starts_at=NOW - timedelta(days=90 - 30 * n), ends_at=NOW - timedelta(days=60 - 30 * n))
        AccessGrant.objects.create(term=term, customer=s.customer, requested_at=p.paid_at,
                                   deadline_at=p.paid_at + timedelta(minutes=30), breached_at=breached)

    # Refund requests and refunds.
    c = live[2].customer
    decided = {"decided_at": NOW}
    RefundRequest.objects.create(customer=c, payment=pay(c), ground="no_access", explanation="x")
    RefundRequest.objects.create(customer=c, payment=pay(c), ground="late", explanation="x")
    RefundRequest.objects.create(customer=c, payment=pay(c), ground="late", explanation="x", status="rejected",
                                 **decided)
    usd = pay(c, amount=6_000, currency="USD", kzt=3_000_000)  # $60.00 = 30 000 ₸
    req_usd = RefundRequest.objects.create(customer=c, payment=usd, ground="late", explanation="x",
                                           status="approved", **decided)
    Refund.objects.create(request=req_usd, payment=usd, customer=c, amount_minor=3_000, currency="USD",
                          is_full=False, status="succeeded", succeeded_at=NOW, idempotency_key="r-usd")
    kzt = pay(c)
    req_kzt = RefundRequest.objects.create(customer=c, payment=kzt, ground="critical_error", explanation="x",
                                           status="approved", **decided)
    Refund.objects.create(request=req_kzt, payment=kzt, customer=c, amount_minor=2_990_000, currency="KZT",
                          is_full=True, status="succeeded", succeeded_at=NOW, idempotency_key="r-kzt")
    kzt2 = pay(c)
    req_pending = RefundRequest.objects.create(customer=c, payment=kzt2, ground="critical_error", explanation="x",
                                               status="approved", **decided)
    Refund.objects.create(request=req_pending, payment=kzt2, customer=c, amount_minor=100_000, currency="KZT",
                          is_full=False, status="pending", idempotency_key="r-pending")

    # Critical-error reports.
    def report(status, deadline, **extra):
        return ErrorReport.objects.create(customer=c, what_fails="x", since=NOW - timedelta(days=9),
                                          severity="blocker", reported_at=NOW - timedelta(days=8),
                                          deadline_at=deadline, status=status, **extra)

    report("confirmed", NOW - timedelta(hours=5), confirmed_at=NOW - timedelta(days=7))   # overdue
    report("confirmed", NOW + timedelta(days=2), confirmed_at=NOW - timedelta(days=7))
    report("open", NOW + timedelta(days=1))
    report("resolved", NOW - timedelta(days=1), confirmed_at=NOW - timedelta(days=7), resolved_at=NOW)
    report("not_critical", NOW + timedelta(days=3))
    return live


def test_the_numbers_match_the_data(data):
    m = dashboard.metrics(now=NOW)
    assert m["subscriptions"] == {"active": 3, "past_due": 1, "live": 4,
                                  "mrr_minor": 2_990_000 * 3 + 5_000_000, "currency": "KZT"}
    weeks = {w.label: (w.new, w.churned, w.lapsed) for w in m["weeks"]}
    assert list(weeks) == [f"2026-W{n:02d}" for n in range(5, 13)]
    assert weeks["2026-W12"] == (2, 1, 0)
    assert weeks["2026-W11"] == (1, 1, 1)
    assert weeks["2026-W10"] == (0, 0, 1)
    assert weeks["2026-W05"] == (0, 1, 0)
    assert sum(sum(v) for v in weeks.values()) == 8
    assert m["renewals"]["succeeded"] == 3 and m["renewals"]["declined"] == 1
    assert m["renewals"]["rate_percent"] == Decimal("75.0")
    assert m["breaches"]["count"] == 1
    assert m["errors"]["confirmed"] == 2 and m["errors"]["awaiting_triage"] == 1 and m["errors"]["overdue"] == 1
    assert [r.status for r in m["errors"]["reports"]] == ["confirmed", "open", "confirmed"]  # by deadline

    rows = {r["ground"]: r for r in m["refunds"]["rows"]}
    # requests: [open, approved, rejected, withdrawn];
    # refunds: [pending, executing, succeeded, failed, to be paid back by transfer]
    assert rows["no_access"]["requests"] == [1, 0, 0, 0]
    assert rows["late"]["requests"] == [1, 1, 1, 0] and rows["late"]["refunds"] == [0, 0, 1, 0, 0]
    assert rows["critical_error"]["requests"] == [0, 2, 0, 0] and rows["critical_error"]["refunds"] == [1, 0, 1, 0, 0]
    assert rows["late"]["refunded_kzt_minor"] == 1_500_000  # $30 of a $60 = 30 000 ₸ payment
    assert m["refunds"]["totals"]["refunded_kzt_minor"] == 1_500_000 + 2_990_000


def test_no_renewals_means_no_rate(db):
    assert dashboard.renewal_success(NOW)["rate_percent"] is None


def test_weeks_are_iso_weeks_in_almaty():
    bounds = dashboard.week_bounds(NOW)
    assert len(bounds) == 8
    assert bounds[-1] == (at(2026, 3, 16, 0, 0), at(2026, 3, 23, 0, 0))
    assert bounds[0][0] == at(2026, 1, 26, 0, 0)
    assert all(e == s2 for (_s, e), (s2, _e) in zip(bounds, bounds[1:], strict=False))


@pytest.fixture
def staff_client(client, settings):
    settings.SOLDEE_STAFF_MFA_REQUIRED = False  # the admin's second factor is tested elsewhere
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def test_the_page_shows_the_numbers_and_svg_charts(staff_client, data):
    with time_machine.travel(NOW, tick=False):
        page = staff_client.get(URL).content.decode()
    tile = re.search(r'id="tile-active"><span class="sd-value">(\d+)<', page)
    assert tile and tile.group(1) == "3"
    assert "₸139,700" in page  # MRR 139 700 ₸ (English admin)
    assert re.search(r'id="tile-renewals"><span class="sd-value">75.0%<', page)
    assert re.search(r'data-week="2026-W11"><td>2026-W11</td><td>[^<]+</td><td class="n-new">1</td>'
                     r'<td class="n-churned">1</td><td class="n-lapsed">1</td>', page)
    assert page.count('<svg class="chart"') == 2
    refunds_chart = page.split('<svg class="chart"')[2].split("</svg>")[0]
    assert ">No access<" in refunds_chart and ">no_access<" not in refunds_chart  # words, not codes
    assert "<script>" not in page and 'style="' not in page
    assert "/static/css/dashboard.css" in page


def test_chart_text_is_escaped():
    svg = dashboard.bar_chart(title="<b>", groups=[("<x>", [1, 2])], series=[("a&b", "s-new"), ("c", "s-lapsed")])
    assert "<b>" not in svg and "<x>" not in svg and "&lt;x&gt;" in svg and "a&amp;b" in svg
    heights = [float(h) for h in re.findall(r'<rect class="bar [^"]+" x="[^"]+" y="[^"]+" width="[^"]+" '
                                            r'height="([^"]+)"><title>', svg)]
    assert heights[1] == 2 * heights[0]


@pytest.mark.parametrize(("values", "ticks"), [
    ([2, 5], [0, 2, 4, 6, 8]), ([0], [0, 1, 2, 3, 4]), ([4], [0, 1, 2, 3, 4]), ([13], [0, 5, 10, 15, 20]),
    ([41], [0, 20, 40, 60, 80]), ([100], [0, 50, 100, 150, 200]), ([7, 3], [0, 2, 4, 6, 8]),
])
def test_bar_chart_ticks_are_evenly_spaced_whole_numbers_and_bars_reach_their_values(values, ticks):
    """Found by a newcomer: a peak of 5 gave the labels 0, 1, 2, 3, 5 on evenly spaced gridlines,
    so a bar worth 2 stood at about 1.6 on the axis."""
    svg = dashboard.bar_chart(title="t", groups=[("g", values)], series=[("a", "s-new"), ("b", "s-lapsed")])
    grid = [float(y) for y in re.findall(r'<line class="grid" x1="[^"]+" y1="([^"]+)"', svg)]
    labels = [int(v) for v in re.findall(r'<text class="axis" x="[^"]+" y="[^"]+" text-anchor="end">(\d+)</text>', svg)]
    assert labels == ticks
    assert ticks[-1] >= max(values)
    per_unit = (grid[0] - grid[-1]) / ticks[-1]  # pixels per unit of value, from the axis itself
    assert all(abs((grid[0] - y) - per_unit * t) < 0.2 for y, t in zip(grid, ticks, strict=True))
    bars = re.findall(r'<rect class="bar [^"]+" x="[^"]+" y="([^"]+)" width="[^"]+" height="([^"]+)"><title>', svg)
    for (y, h), value in zip(bars, values, strict=True):
        assert abs(float(h) - per_unit * value) < 0.2 and abs(float(y) + float(h) - grid[0]) < 0.2


@pytest.mark.parametrize("language", ["en", "ru", "kk"])
def test_chart_legends_fit_inside_the_chart(staff_client, data, language):
    """Found by a newcomer: the Kazakh refunds chart's legend ran off its right edge, cut off at
    «Тапсырыс беруші…» (the last status). A legend that does not fit wraps to another row."""
    from html import unescape

    staff_client.cookies["django_language"] = language
    with time_machine.travel(NOW, tick=False):
        page = staff_client.get(URL).content.decode()
    charts = re.findall(r'<svg class="chart"[^>]* viewBox="0 0 (\d+) (\d+)"[^>]*>(.*?)</svg>', page, re.S)
    assert len(charts) == 2
    for width, height, svg in charts:
        legend = re.findall(r'<text class="legend" x="(\d+)" y="(\d+)">([^<]+)</text>', svg)
        assert len(legend) >= 3
        for x, y, text in legend:
            assert int(x) + dashboard.LEGEND_CHAR_W * len(unescape(text)) <= int(width), (language, text)
            assert int(y) <= int(height), (language, text)
        grid_bottom = max(float(y) for y in re.findall(r'<line class="grid" x1="[^"]+" y1="([^"]+)"', svg))
        assert min(int(y) for _x, y, _t in legend) > grid_bottom + 20  # below the x-axis labels


def test_admin_index_links_to_the_staff_tools(staff_client):
    page = staff_client.get("/admin/").content.decode()
    assert 'href="/admin/dashboard/"' in page and 'href="/admin/test-clock/"' in page


def test_the_admin_index_sections_have_distinct_names_in_the_staff_members_language(staff_client):
    """Found by staff: two sections were both called "Soldee" (the staff tools, the event log)."""
    import re

    for language, tools, log in (("en", "Staff tools", "Event log"), ("ru", "Инструменты сотрудников", "Журнал событий"),
                                 ("kk", "Қызметкерлер құралдары", "Оқиғалар журналы")):
        staff_client.cookies["django_language"] = language
        page = staff_client.get("/admin/").content.decode()
        captions = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<caption>(.*?)</caption>", page, re.S)]
        assert len(captions) == len(set(captions)) and "Soldee" not in captions, captions
        assert tools in captions and log in captions, captions


def test_customers_cannot_open_the_dashboard(client, customer):
    client.force_login(customer)
    response = client.get(URL)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_staff_who_may_not_see_payments_cannot_open_the_dashboard(client, settings):
    """Found by the security review: any staff account saw revenue and refunds."""
    from django.contrib.auth.models import Permission

    settings.SOLDEE_STAFF_MFA_REQUIRED = False
    clerk = UserFactory(is_staff=True)
    client.force_login(clerk)
    assert client.get(URL).status_code == 403
    index = client.get("/admin/").content.decode()
    assert 'id="dashboard-link"' not in index and 'id="test-clock-link"' not in index  # not offered either
    assert 'id="soldee-staff-tools"' not in index  # nor an empty "Staff tools" box
    clerk.user_permissions.add(*Permission.objects.filter(codename__in=["view_payment", "view_subscription"]))
    client.force_login(type(clerk).objects.get(pk=clerk.pk))
    assert client.get(URL).status_code == 200


def test_a_payment_refunded_in_parts_sums_to_its_whole_tenge_price(staff_client):
    c = ProfileFactory().user
    rub = pay(c, amount=46_367, currency="RUB", kzt=2_990_000)  # 463.67 RUB at 6.4486... ₸
    for amount in (10_000, 36_367):  # 100.00 RUB, then the rest
        request = RefundRequest.objects.create(customer=c, payment=rub, ground="late", explanation="x",
                                               status="approved", decided_at=NOW)
        Refund.objects.create(request=request, payment=rub, customer=c, amount_minor=amount, currency="RUB",
                              is_full=amount == 36_367, status="succeeded", succeeded_at=NOW,
                              idempotency_key=f"parts-{amount}")
    assert dashboard.refunds_by_ground()["totals"]["refunded_kzt_minor"] == 2_990_000
    with time_machine.travel(NOW, tick=False):
        page = staff_client.get(URL).content.decode()
    row = re.search(r'<tr data-ground="late">.*?</tr>', page).group(0)
    assert "₸29,900" in row and "2990000" not in row  # money as money, not tiyn
