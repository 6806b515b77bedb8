"""The test clock (non-production only): move ONE customer's time forward.

Like Stripe's test clocks, but without a fake clock: every service reads
`timezone.now()`, so instead of moving "now" for one customer we move that customer's
*schedule* backwards by the same amount and then run the real sweeps. Whatever was due
within the advanced span becomes due now and happens through the real services —
reminders, renewal charges, retries, lapse, expiry, access deadlines, missed deadlines
of critical-error reports.

What is shifted (schedule: when things are due, the periods they cover):
- Subscription: current_period_start/end, next_charge_at, first_failed_at,
  reminder_sent_for (kept equal to the period end it was sent for), ended_at;
- Term: starts_at, ends_at (derived from the payment by the term rule; a schedule);
- AccessGrant: requested_at, deadline_at, granted_at, revoked_at, breached_at (the whole
  grant timeline moves together, so "granted within 30 minutes" stays true or false);
- RenewalAttempt: created_at, finished_at (the reconcile sweep reads created_at);
- ErrorReport: since, reported_at, deadline_at, confirmed_at, triaged_at, resolved_at
  (the refund evaluation compares them with the term, which moved too).

What is NEVER shifted (evidence and money, append-only or accounting records): Payment
(paid_at, created_at…), Acceptance, AcceptedDocument, Event, PaymentDocument, Refund,
RefundRequest, IncomingNotification, SandboxTransaction. A payment made by a renewal the
test clock triggered is dated with the real time it was made; the event log shows each
advance as `test_clock.advanced` (by staff), in real time.

Long advances go step by step: the clock stops at every moment something is due for the
customer (reminder horizon, charge, retry, term end, access deadline, reconcile) so that,
for example, 60 days bring two renewals at their term ends, not one late charge. After
each step the sweeps run synchronously, in the order beat would reach them; pending
access grants of the customer are provisioned right away (as the worker would within
seconds), so a later step does not see them as missed.

The sweeps are the global ones (they take no customer): anything else due is processed
too, exactly as beat would a minute later; they are idempotent.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from . import events
from .locking import lock_customer
from .models import Event

MAX_ADVANCE = timedelta(days=400)
MAX_STEPS = 500
TICK = timedelta(seconds=1)  # stop just past a due moment (sweeps compare with < / <=)
VERB = "test_clock.advanced"

SHIFTED_FIELDS = {
    "subscriptions.Subscription": ("current_period_start", "current_period_end", "next_charge_at",
                                   "first_failed_at", "reminder_sent_for", "ended_at"),
    "subscriptions.Term": ("starts_at", "ends_at"),
    "subscriptions.AccessGrant": ("requested_at", "deadline_at", "granted_at", "revoked_at", "breached_at"),
    "subscriptions.RenewalAttempt": ("created_at", "finished_at"),
    "refunds.ErrorReport": ("since", "reported_at", "deadline_at", "confirmed_at", "triaged_at",
                            "resolved_at"),
}


class TestClockDisabled(Exception):
    """The test clock is off here (production)."""

    __test__ = False  # not a pytest test class


def is_enabled() -> bool:
    """On with DEBUG, or when SOLDEE_TEST_CLOCK_ENABLED is explicitly True."""
    return bool(settings.DEBUG) or getattr(settings, "SOLDEE_TEST_CLOCK_ENABLED", False) is True


@dataclass
class AdvanceResult:
    steps: list[timedelta] = field(default_factory=list)
    outcome: Counter = field(default_factory=Counter)

    @property
    def total(self) -> timedelta:
        return sum(self.steps, timedelta(0))


# --- Reads --------------------------------------------------------------------------

def offset(customer) -> timedelta:
    """How far this customer's clock has been moved in total."""
    seconds = sum(int(d.get("by_seconds", 0)) for d in Event.objects.filter(
        verb=VERB, customer=customer).values_list("data", flat=True))
    return timedelta(seconds=seconds)


def offset_display(delta: timedelta) -> str:
    hours, rest = divmod(delta.seconds, 3600)
    return _("%(days)s d %(hours)s h %(minutes)s min") % {"days": delta.days, "hours": hours,
                                                         "minutes": rest // 60}


def next_due(*, customer_id: int, now) -> object | None:
    """The earliest moment after `now` at which a sweep has something to do for the customer."""
    from refunds.models import ErrorReport
    from subscriptions.models import LIVE_STATUSES, AccessGrant, RenewalAttempt, Subscription
    from subscriptions.renewals import RECONCILED_KINDS

    moments = []
    for sub in Subscription.objects.filter(customer_id=customer_id, status__in=LIVE_STATUSES):
        if sub.auto_renew and sub.next_charge_at:
            moments.append(sub.next_charge_at)
            if sub.status == Subscription.Status.ACTIVE and sub.reminder_sent_for != sub.current_period_end:
                moments.append(sub.next_charge_at - timedelta(days=settings.RENEWAL_REMINDER_DAYS))
        if not sub.auto_renew:
            moments.append(sub.current_period_end)
    moments += AccessGrant.objects.filter(customer_id=customer_id, status=AccessGrant.Status.PENDING,
                                          breached_at__isnull=True).values_list("deadline_at", flat=True)
    moments += ErrorReport.objects.filter(
        customer_id=customer_id, status__in=[ErrorReport.Status.OPEN, ErrorReport.Status.CONFIRMED],
        resolved_at__isnull=True, deadline_missed_at__isnull=True).values_list("deadline_at", flat=True)
    reconcile_after = timedelta(minutes=settings.RENEWAL_RECONCILE_AFTER_MINUTES)
    moments += [created + reconcile_after for created in RenewalAttempt.objects.filter(
        subscription__customer_id=customer_id, kind__in=RECONCILED_KINDS,
        status__in=RenewalAttempt.IN_FLIGHT,
    ).values_list("created_at", flat=True)]
    future = [m for m in moments if m is not None and m > now]
    return min(future) if future else None


# --- Writes -------------------------------------------------------------------------

def customer_shift(*, customer_id: int, by: timedelta, actor, note: dict | None = None) -> dict[str, int]:
    """Move the customer's schedule `by` into the past (one transaction; customer and
    subscriptions locked in the usual order) and record `test_clock.advanced`."""
    from django.apps import apps

    if not is_enabled():
        raise TestClockDisabled(_("The test clock is disabled in this environment."))
    if by <= timedelta(0):
        raise ValueError("the clock only moves forward")
    from subscriptions.models import Subscription

    with transaction.atomic():
        lock_customer(customer_id)  # FOR NO KEY UPDATE, as every service (soldee/locking.py)
        customer = get_user_model().objects.get(pk=customer_id)
        sub_ids = list(Subscription.objects.select_for_update().filter(customer_id=customer_id)
                       .order_by("pk").values_list("pk", flat=True))
        scopes = {
            "subscriptions.Subscription": {"pk__in": sub_ids},
            "subscriptions.Term": {"subscription_id__in": sub_ids},
            "subscriptions.AccessGrant": {"customer_id": customer_id},
            "subscriptions.RenewalAttempt": {"subscription_id__in": sub_ids},
            "refunds.ErrorReport": {"customer_id": customer_id},
        }
        rows = {}
        for label, fields in SHIFTED_FIELDS.items():
            model = apps.get_model(label)
            changes = {name: F(name) - by for name in fields}
            if label == "subscriptions.Term":
                # Unique (subscription, starts_at) is checked row by row: moving the
                # earliest term first never lands one on a start not yet moved.
                ids = model.objects.filter(**scopes[label]).order_by("starts_at").values_list("pk", flat=True)
                rows[label] = sum(model.objects.filter(pk=pk).update(**changes) for pk in ids)
            else:
                rows[label] = model.objects.filter(**scopes[label]).update(**changes)
        events.record(verb=VERB, subject=customer, customer=customer, actor=actor,
                      actor_kind=Event.ActorKind.STAFF,
                      data={"by_seconds": int(by.total_seconds()), "rows": rows, **(note or {})})
    return rows


def sweeps_run(*, customer_id: int) -> Counter:
    """The real sweeps, synchronously, in beat's order; then the customer's pending
    access grants are provisioned as the worker would right after payment."""
    from refunds import services as refund_services
    from refunds.models import RefundRequest
    from subscriptions import agent_platform, renewals
    from subscriptions import services as subscription_services
    from subscriptions import tasks as subscription_tasks
    from subscriptions.models import AccessGrant

    outcome = Counter()
    outcome["deadline_breaches"] += subscription_tasks.access_deadline_sweep()
    outcome["reminders"] += subscription_tasks.renewal_reminder_sweep()
    for status, n in renewals.renewals_run().items():
        outcome[f"renewals_{status}"] += n
    for status, n in renewals.renewals_reconcile().items():
        outcome[f"reconciled_{status}"] += n
    outcome["expired"] += subscription_tasks.subscription_expiry_sweep()
    outcome["error_deadlines_missed"] += refund_services.error_reports_deadline_sweep()
    for grant_id in AccessGrant.objects.filter(customer_id=customer_id, status=AccessGrant.Status.PENDING
                                               ).values_list("pk", flat=True):
        try:
            subscription_services.access_provision(grant_id=grant_id)
            outcome["access_granted"] += 1
        except agent_platform.PlatformError:
            outcome["access_failed"] += 1  # stays pending: the next step may see it breached
    for request_id in RefundRequest.objects.filter(customer_id=customer_id, status=RefundRequest.Status.OPEN
                                                   ).values_list("pk", flat=True):
        refund_services.refund_request_reevaluate(request_id=request_id)
    return +outcome


# What staff read for each count of sweeps_run (the keys stay in the result and the event).
OUTCOME_LABELS = {
    "deadline_breaches": gettext_lazy("30-minute access deadlines missed"),
    "reminders": gettext_lazy("renewal reminders"),
    "renewals_succeeded": gettext_lazy("renewals charged"),
    "renewals_declined": gettext_lazy("renewal charges declined"),
    "renewals_unknown": gettext_lazy("renewal charges with an unknown outcome"),
    "renewals_error": gettext_lazy("renewal charges not settled (error)"),
    "expired": gettext_lazy("subscriptions ended"),
    "error_deadlines_missed": gettext_lazy("error-report deadlines missed"),
    "access_granted": gettext_lazy("access granted"),
    "access_failed": gettext_lazy("access not granted yet"),
}


def outcome_display(outcome) -> str:
    """"renewals charged: 1, renewal reminders: 1" in the reader's language; a count
    without a label (reconciliation's statuses) keeps its key."""
    parts = []
    for key, n in sorted(outcome.items()):
        if key.startswith("reconciled_"):
            label = _("reconciled (%(status)s)") % {"status": key.removeprefix("reconciled_")}
        else:
            label = OUTCOME_LABELS.get(key, key)
        parts.append(f"{label}: {n}")
    return ", ".join(parts)


def advance(*, customer, by: timedelta, actor) -> AdvanceResult:
    """Advance the customer's time by `by`, stopping at every due moment on the way."""
    if not is_enabled():
        raise TestClockDisabled(_("The test clock is disabled in this environment."))
    if by <= timedelta(0) or by > MAX_ADVANCE:
        raise ValueError(_("Advance by more than nothing and at most %(days)s days.") % {"days": MAX_ADVANCE.days})
    result = AdvanceResult()
    total_seconds = max(1, int(by.total_seconds()))
    remaining = timedelta(seconds=total_seconds)
    while remaining > timedelta(0):
        now = timezone.now()
        due = next_due(customer_id=customer.pk, now=now)
        step = remaining
        if due is not None and len(result.steps) < MAX_STEPS - 1:
            step = min(remaining, due - now + TICK)
        step = min(remaining, timedelta(seconds=math.ceil(step.total_seconds())))
        customer_shift(customer_id=customer.pk, by=step, actor=actor,
                       note={"step": len(result.steps) + 1, "advance_seconds": total_seconds})
        result.steps.append(step)
        remaining -= step
        result.outcome.update(sweeps_run(customer_id=customer.pk))
    return result
