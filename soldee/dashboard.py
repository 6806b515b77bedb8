"""Staff dashboard: the numbers (selectors) and their server-rendered SVG charts.

Definitions (docs/operations.md repeats them for staff):
- live subscriptions: status active or past_due; "active" counts status active only.
- MRR: the monthly-equivalent of live subscriptions at current plan prices — the sum of
  plan.price_minor over live subscriptions (every term is 30 days, so a plan's price is
  its monthly amount; non-residents are counted at the tenge price of their plan).
- per ISO week (Monday 00:00 Asia/Almaty), the current week and the 7 before it:
  new = subscriptions created that week; churned = ended that week with reason
  cancelled (renewal turned off) or refunded; lapsed = ended that week because the
  renewal payment failed.
- renewal success rate, last 30 days: renewal attempts finished in the window,
  succeeded / (succeeded + declined), both kinds (saved card and the customer's own try);
  not staff's extra tries, nor the automatic "declines" that asked no card.
- refunds by ground and status: refund requests by ground × request status, refunds
  (money) by their request's ground × refund status; refunded KZT = the tenge equivalent
  of succeeded refunds at each payment's own rate.
- access-grant deadline breaches, last 30 days: grants with breached_at in the window.
- open critical errors: reports not yet resolved or dismissed (open = awaiting triage,
  confirmed = critical), by deadline.

Each block is one or two aggregate queries, whatever the size of the tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Count, Q, Sum
from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from soldee.money import format_money

from .business_days import ALMATY

WEEKS = 8
WINDOW_DAYS = 30


@dataclass
class Week:
    start: datetime
    end: datetime
    new: int = 0
    churned: int = 0
    lapsed: int = 0

    @property
    def label(self) -> str:
        year, week, _day = self.start.astimezone(ALMATY).isocalendar()
        return f"{year}-W{week:02d}"


def week_bounds(now: datetime, weeks: int = WEEKS) -> list[tuple[datetime, datetime]]:
    """[start, end) of the last `weeks` ISO weeks in Almaty, oldest first, current last."""
    local = now.astimezone(ALMATY)
    monday = (local - timedelta(days=local.weekday())).date()
    bounds = []
    for i in range(weeks - 1, -1, -1):
        day = monday - timedelta(weeks=i)
        start = datetime(day.year, day.month, day.day, tzinfo=ALMATY)
        nxt = day + timedelta(weeks=1)
        bounds.append((start, datetime(nxt.year, nxt.month, nxt.day, tzinfo=ALMATY)))
    return bounds


def subscriptions_summary() -> dict:
    from subscriptions.models import Subscription

    row = Subscription.objects.aggregate(
        active=Count("pk", filter=Q(status=Subscription.Status.ACTIVE)),
        past_due=Count("pk", filter=Q(status=Subscription.Status.PAST_DUE)),
        mrr=Sum("plan__price_minor", filter=Q(status__in=[Subscription.Status.ACTIVE,
                                                           Subscription.Status.PAST_DUE])),
    )
    return {"active": row["active"], "past_due": row["past_due"],
            "live": row["active"] + row["past_due"], "mrr_minor": row["mrr"] or 0, "currency": "KZT"}


def weekly_movements(now: datetime, weeks: int = WEEKS) -> list[Week]:
    from subscriptions.models import Subscription

    bounds = week_bounds(now, weeks)
    result = [Week(start=s, end=e) for s, e in bounds]
    first, last = bounds[0][0], bounds[-1][1]
    new = Subscription.objects.filter(created_at__gte=first, created_at__lt=last).aggregate(**{
        f"w{i}": Count("pk", filter=Q(created_at__gte=s, created_at__lt=e)) for i, (s, e) in enumerate(bounds)})
    churn_reasons = [Subscription.EndReason.CANCELLED, Subscription.EndReason.REFUNDED]
    ended = Subscription.objects.filter(status=Subscription.Status.ENDED, ended_at__gte=first,
                                        ended_at__lt=last)
    aggregates = {}
    for i, (s, e) in enumerate(bounds):
        in_week = Q(ended_at__gte=s, ended_at__lt=e)
        aggregates[f"c{i}"] = Count("pk", filter=in_week & Q(end_reason__in=churn_reasons))
        aggregates[f"l{i}"] = Count("pk", filter=in_week & Q(end_reason=Subscription.EndReason.LAPSED))
    ends = ended.aggregate(**aggregates)
    for i, week in enumerate(result):
        week.new, week.churned, week.lapsed = new[f"w{i}"], ends[f"c{i}"], ends[f"l{i}"]
    return result


def renewal_success(now: datetime, days: int = WINDOW_DAYS) -> dict:
    from subscriptions.models import NOT_CHARGED, RenewalAttempt

    # The automatic charge and the customer's own try; not staff's extra tries, nor the
    # "declines" that asked no card (no saved card: an invoice payer; renewal turned off).
    row = RenewalAttempt.objects.filter(
        finished_at__gte=now - timedelta(days=days), finished_at__lte=now,
        kind__in=[RenewalAttempt.Kind.AUTOMATIC, RenewalAttempt.Kind.CUSTOMER],
    ).exclude(payment__failure_code__in=NOT_CHARGED).exclude(
        payment__status="expired",  # a payment page left or replaced: no card was declined
    ).aggregate(
        succeeded=Count("pk", filter=Q(status=RenewalAttempt.Status.SUCCEEDED)),
        declined=Count("pk", filter=Q(status=RenewalAttempt.Status.DECLINED)),
    )
    total = row["succeeded"] + row["declined"]
    rate = None
    if total:
        rate = (Decimal(100) * row["succeeded"] / total).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    return {**row, "total": total, "rate_percent": rate, "days": days}


def refunds_by_ground() -> dict:
    from refunds.models import Refund, RefundRequest

    requests = {(r["ground"], r["status"]): r["n"] for r in RefundRequest.objects.values("ground", "status")
                .annotate(n=Count("pk")).order_by()}
    refunds = {(r["request__ground"], r["status"]): r["n"] for r in Refund.objects.values(
        "request__ground", "status").annotate(n=Count("pk")).order_by()}
    # The tenge equivalent at each payment's own rate, rounded once per payment (and ground):
    # a payment refunded in two parts still sums to its whole tenge price.
    refunded_kzt: dict[str, int] = {}
    for r in (Refund.objects.filter(status=Refund.Status.SUCCEEDED)
              .values("request__ground", "payment_id", "payment__amount_minor", "payment__kzt_amount_minor")
              .annotate(total=Sum("amount_minor")).order_by()):
        paid, kzt = r["payment__amount_minor"], r["payment__kzt_amount_minor"]
        share = (2 * r["total"] * kzt + paid) // (2 * paid)  # half up
        refunded_kzt[r["request__ground"]] = refunded_kzt.get(r["request__ground"], 0) + share
    # Short enough for the chart's axis (the table has the grounds in full).
    short = {RefundRequest.Ground.NO_ACCESS: _("No access"),
             RefundRequest.Ground.CRITICAL_ERROR: _("Critical error"),
             RefundRequest.Ground.LATE: _("Not on time")}
    rows = []
    for ground, label in RefundRequest.Ground.choices:
        rows.append({
            "ground": ground, "label": label, "short": short.get(ground, label),
            "requests": [requests.get((ground, s), 0) for s, _l in RefundRequest.Status.choices],
            "refunds": [refunds.get((ground, s), 0) for s, _l in Refund.Status.choices],
            "refunded_kzt_minor": refunded_kzt.get(ground, 0),
            "refunded_kzt_display": format_money(refunded_kzt.get(ground, 0), "KZT"),
        })
    totals = {
        "requests": [sum(r["requests"][i] for r in rows) for i in range(len(RefundRequest.Status.choices))],
        "refunds": [sum(r["refunds"][i] for r in rows) for i in range(len(Refund.Status.choices))],
        "refunded_kzt_minor": sum(r["refunded_kzt_minor"] for r in rows),
    }
    return {"request_statuses": [label for _s, label in RefundRequest.Status.choices],
            "refund_statuses": [label for _s, label in Refund.Status.choices],
            "rows": rows, "totals": totals}


def access_breaches(now: datetime, days: int = WINDOW_DAYS, limit: int = 20) -> dict:
    from subscriptions.models import AccessGrant

    recent = AccessGrant.objects.filter(breached_at__gte=now - timedelta(days=days), breached_at__lte=now)
    return {"count": recent.count(), "days": days,
            "recent": list(recent.select_related("customer").order_by("-breached_at")[:limit])}


def open_critical_errors(now: datetime, limit: int = 50) -> dict:
    from refunds.models import ErrorReport

    open_reports = ErrorReport.objects.filter(status__in=[ErrorReport.Status.OPEN, ErrorReport.Status.CONFIRMED])
    counts = open_reports.aggregate(
        confirmed=Count("pk", filter=Q(status=ErrorReport.Status.CONFIRMED)),
        awaiting_triage=Count("pk", filter=Q(status=ErrorReport.Status.OPEN)),
        overdue=Count("pk", filter=Q(deadline_at__lt=now)),
    )
    reports = list(open_reports.select_related("customer").order_by("deadline_at", "pk")[:limit])
    for r in reports:
        r.overdue = r.deadline_at < now
    return {**counts, "total": counts["confirmed"] + counts["awaiting_triage"], "reports": reports}


def metrics(now: datetime | None = None) -> dict:
    now = now or timezone.now()
    return {
        "now": now,
        "subscriptions": subscriptions_summary(),
        "weeks": weekly_movements(now),
        "renewals": renewal_success(now),
        "refunds": refunds_by_ground(),
        "breaches": access_breaches(now),
        "errors": open_critical_errors(now),
    }


# --- Charts: plain SVG, no script, no style attribute (classes; CSS in dashboard.css) ---

def _nice_step(value: int, intervals: int = 4) -> int:
    """The smallest step of 1, 2 or 5 × 10^k with `intervals` steps reaching `value`: the y-axis
    ticks are then whole numbers, evenly spaced, and the top tick is at least the peak."""
    magnitude = 1
    while True:
        for step in (1, 2, 5):
            if step * magnitude * intervals >= value:
                return step * magnitude
        magnitude *= 10


LEGEND_CHAR_W = 8  # px per character at the legend's 11px font: generous, for wide Cyrillic letters
LEGEND_ROW_H = 16


def bar_chart(*, title: str, groups: list[tuple[str, list[int]]], series: list[tuple[str, str]],
              width: int = 640, height: int = 240) -> SafeString:
    """Grouped bar chart: `groups` = [(label, [value per series])], `series` =
    [(legend label, css class)]. Every text is escaped; returns inline SVG markup."""
    left, right, top, bottom = 36, 8, 24, 36
    plot_w, plot_h = width - left - right, height - top - bottom
    step = _nice_step(max([v for _label, values in groups for v in values] or [0]))
    peak = 4 * step  # the top tick: bars are scaled to it, so a bar reaches its tick label
    n_series = max(len(series), 1)
    slot = plot_w / max(len(groups), 1)
    bar_w = max(2.0, (slot * 0.8) / n_series)
    legend, x, row = [], left, 0  # wraps to a new row rather than run off the right edge
    for name, css in series:
        item_w = 14 + LEGEND_CHAR_W * len(str(name))
        if x > left and x + item_w > width - right:
            x, row = left, row + 1
        legend.append((name, css, x, height + LEGEND_ROW_H * row))
        x += item_w + 16
    full_h = height + LEGEND_ROW_H * row  # extra legend rows go below; the plot keeps its size
    parts = [f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {full_h}" '
             f'width="{width}" height="{full_h}" role="img" aria-label="{escape(title)}">',
             f"<title>{escape(title)}</title>"]
    for i in range(5):  # horizontal grid and y labels
        value = step * i
        y = top + plot_h - plot_h * i / 4
        parts.append(f'<line class="grid" x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}"/>')
        parts.append(f'<text class="axis" x="{left - 4}" y="{y + 4:.1f}" text-anchor="end">{value}</text>')
    for g, (label, values) in enumerate(groups):
        x0 = left + g * slot + slot * 0.1
        for s, value in enumerate(values):
            h = plot_h * value / peak if peak else 0
            x, y = x0 + s * bar_w, top + plot_h - h
            css = escape(series[s][1]) if s < len(series) else "bar"
            name = escape(series[s][0]) if s < len(series) else ""
            parts.append(f'<rect class="bar {css}" x="{x:.1f}" y="{y:.1f}" width="{bar_w - 1:.1f}" '
                         f'height="{h:.1f}"><title>{escape(label)} · {name}: {value}</title></rect>')
        parts.append(f'<text class="axis" x="{left + g * slot + slot / 2:.1f}" y="{height - bottom + 14}" '
                     f'text-anchor="middle">{escape(label)}</text>')
    for name, css, x, y in legend:
        parts.append(f'<rect class="bar {escape(css)}" x="{x}" y="{y - 14}" width="10" height="10"/>')
        parts.append(f'<text class="legend" x="{x + 14}" y="{y - 5}">{escape(name)}</text>')
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 — built here, every text escaped
