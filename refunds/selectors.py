"""Reads for refunds: the customer's own objects, and the evaluation of a refund ground
from the portal's records (a recommendation for staff; staff decide)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.conf import settings
from django.db.models import F, Q, QuerySet, Sum
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from billing.models import Payment
from soldee.models import Event
from soldee.money import format_money

from .models import CalendarException, ErrorReport, Refund, RefundRequest

# --- The business-day exceptions provider (registered in apps.ready) ------------------


def calendar_exceptions() -> tuple[list[date], list[date]]:
    """``(extra_days_off, extra_working_days)`` as staff entered them."""
    rows = list(CalendarException.objects.values_list("date", "kind"))
    off = [d for d, kind in rows if kind == CalendarException.Kind.DAY_OFF]
    working = [d for d, kind in rows if kind == CalendarException.Kind.WORKING_DAY]
    return off, working


# --- Customer pages -------------------------------------------------------------------


def refundable_payments(customer) -> QuerySet[Payment]:
    """The customer's own paid payments with money left to refund and no request open
    (one open request per payment: offering a second one would only be refused)."""
    return (Payment.objects.filter(customer=customer, status=Payment.Status.SUCCEEDED)
            .filter(refunded_minor__lt=F("amount_minor"))
            .exclude(refund_requests__status=RefundRequest.Status.OPEN)
            .order_by("-paid_at"))


def customer_overview(customer) -> dict:
    return {
        "requests": RefundRequest.objects.filter(customer=customer).select_related("payment", "refund")[:100],
        "reports": ErrorReport.objects.filter(customer=customer)[:100],
        "payments": refundable_payments(customer)[:50],
    }


def events_for(*subjects) -> QuerySet[Event]:
    q = Q(pk__in=[])
    for subject in subjects:
        if subject is not None:
            q |= Q(subject_type=subject._meta.label_lower, subject_id=str(subject.pk))
    return Event.objects.filter(q).select_related("actor").order_by("created_at", "id")


def reserved_minor(payment_id: int, *, exclude_refund: int | None = None) -> int:
    """Money promised by approved refunds not yet recorded on the payment. A failed refund
    holds its amount too: it is retried, and "failed" also covers a gateway that refunded
    while the recording did not (money moves at most once)."""
    return Refund.objects.filter(
        payment_id=payment_id,
        status__in=[Refund.Status.PENDING, Refund.Status.EXECUTING, Refund.Status.AWAITING_TRANSFER,
                    Refund.Status.FAILED],
    ).exclude(pk=exclude_refund).aggregate(total=Sum("amount_minor"))["total"] or 0


def full_refund_effect(payment: Payment, now=None) -> str:
    """What refunding everything left on `payment` does to the subscription, in words, for
    the staff member who approves it and the customer's e-mail (the rule itself:
    subscriptions.services.refund_outcome, which the refund applies)."""
    from subscriptions.services import RefundOutcome, refund_outcome

    term = getattr(payment, "term", None)
    if term is None:
        return _("It paid for no term: the subscription is not affected.")
    outcome, in_use = refund_outcome(term, now=now)
    if outcome == RefundOutcome.ENDED:
        if term.subscription.end_reason != term.subscription.EndReason.REFUNDED:
            return _("The subscription has already ended.")
        # Ended by a refund: this one, when its approval e-mail is sent after the gateway returned the money.
        return _("The subscription has ended and access to the AI agent is closed.")
    if outcome == RefundOutcome.LATER_PAID:
        return _("A later term is paid: the subscription goes on.")
    # Read by the customer too: their date format, Almaty time.
    until = formats.date_format(timezone.localtime(in_use.ends_at), "DATETIME_FORMAT") if in_use else ""
    # Applied when the money is back (services._refund_record): the gateway's answer for a card,
    # usually in seconds, but a card the gateway refuses is paid back by bank transfer days later,
    # as is a payment by bank transfer when staff record the transfer. Nothing changes before,
    # except that automatic renewal is off from the approval (services.refund_request_approve).
    if outcome == RefundOutcome.TERM_CANCELLED:
        return _("The term it paid has not started: when the money is paid back, that term is cancelled. The "
                 "term in use keeps its access until %(date)s (Almaty time), then the subscription ends "
                 "(automatic renewal off).") % {"date": until}
    return _("When the money is paid back, the subscription ends and access to the AI agent is closed; "
             "until then it goes on, without automatic renewal.")


def approval_summary(request: RefundRequest) -> str:
    """One line per request on the approve page: what was paid, what is left, the records'
    recommendation and what a full refund does."""
    payment = request.payment
    left = payment.refundable_minor - reserved_minor(payment.pk)
    return _("%(paid)s paid on %(date)s, %(left)s left to refund. %(eligible)s. A full refund: %(effect)s") % {
        "paid": payment.amount_display,
        "date": formats.date_format(timezone.localtime(payment.paid_at), "DATETIME_FORMAT") if payment.paid_at else "—",
        "left": format_money(max(left, 0), payment.currency),
        "eligible": _("Eligible by records") if request.eligible else _("Not eligible by records"),
        "effect": full_refund_effect(payment)}


# --- Evaluation of a ground (clause 7) ------------------------------------------------


@dataclass
class Evaluation:
    eligible: bool
    reasons: list[str] = field(default_factory=list)
    evidence: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"eligible": self.eligible, "reasons": self.reasons, "evidence": self.evidence}


def _dt(value) -> str:
    """A moment in the evaluation's text: Almaty time, as the active language writes dates
    (the stored recommendation: the staff language, refunds.services._evaluate_for_staff)."""
    return formats.date_format(timezone.localtime(value), "DATETIME_FORMAT") if value else "—"


def _term_and_grant(payment: Payment):
    # A missing one-to-one raises RelatedObjectDoesNotExist, an AttributeError.
    term = getattr(payment, "term", None)
    grant = getattr(term, "access_grant", None) if term is not None else None
    return term, grant


def _payment_evidence(payment: Payment, term, grant) -> list[str]:
    lines = [_("Payment %(ref)s: %(amount)s paid at %(paid)s, refunded so far %(refunded)s.") % {
        "ref": payment.public_id, "amount": payment.amount_display, "paid": _dt(payment.paid_at),
        "refunded": format_money(payment.refunded_minor, payment.currency)}]
    if term is None:
        lines.append(_("No paid term was started for this payment."))
    else:
        lines.append(_("Paid term #%(n)s: %(start)s – %(end)s.") % {
            "n": term.number, "start": _dt(term.starts_at), "end": _dt(term.ends_at)})
    if grant is None:
        if term is not None:
            lines.append(_("No access grant exists for this term."))
    else:
        lines.append(_("Access grant: status %(status)s, due %(due)s, granted %(granted)s, "
                       "breach flagged %(breach)s.") % {
            "status": grant.get_status_display().lower(), "due": _dt(grant.deadline_at), "granted": _dt(grant.granted_at),
            "breach": _dt(grant.breached_at)})
    return lines


def _no_access(payment, term, grant, now, asked_at=None) -> tuple[bool, list[str]]:
    if term is not None and term.starts_at > (asked_at or now):
        # Paid ahead (a renewal charged before the term in use ends): access under this term
        # begins at its start, so nothing of it had been rendered when the refund was asked
        # (judged at the asking: staff deciding after the start change nothing), whatever
        # the platform was told in advance.
        return True, [_("The term this payment bought starts at %(start)s and had not begun when the refund was "
                        "asked: no access under it had been given.") % {"start": _dt(term.starts_at)}]
    if grant is None or grant.granted_at is None:
        if grant is not None and grant.deadline_at > now and grant.status == grant.Status.PENDING:
            return False, [_("Access is still being provisioned; the 30-minute deadline (%(due)s) "
                             "has not passed yet.") % {"due": _dt(grant.deadline_at)}]
        return True, [_("No access was ever granted for this payment's term.")]
    return False, [_("Access was granted at %(at)s. Under clause 7 the service is deemed rendered "
                     "at that moment.") % {"at": _dt(grant.granted_at)}]


def _late(payment, term, grant, now) -> tuple[bool, list[str]]:
    reasons, eligible = [], False
    if grant is None:
        if term is None:
            return False, [_("No paid term exists for this payment, so no provision deadline applies; "
                             "see the 'access not granted' ground.")]
        return True, [_("No access grant was recorded for this term.")]
    if grant.breached_at is not None:
        eligible = True
        reasons.append(_("A provisioning breach was recorded at %(at)s.") % {"at": _dt(grant.breached_at)})
    if grant.granted_at is not None and grant.granted_at > grant.deadline_at:
        eligible = True
        # The deadline: 30 minutes from the payment, or from the start of a term paid ahead;
        # a few seconds late reads 31 minutes, not 30.
        since = grant.deadline_at - timedelta(minutes=settings.ACCESS_GRANT_DEADLINE_MINUTES)
        minutes = math.ceil((grant.granted_at - since).total_seconds() / 60)
        reasons.append(_("Access was granted at %(at)s, %(m)s minutes after the payment (or after the start of "
                         "a term paid ahead), later than the 30 minutes promised (clause 5.2).")
                       % {"at": _dt(grant.granted_at), "m": minutes})
    elif grant.granted_at is None and grant.deadline_at < now and not eligible:
        eligible = True
        reasons.append(_("Access has not been granted and the 30-minute deadline (%(due)s) has passed.")
                       % {"due": _dt(grant.deadline_at)})
    if not eligible:
        if grant.granted_at is not None:
            reasons.append(_("Access was granted at %(at)s, by its deadline %(due)s (30 minutes from the "
                             "payment, or from the start of a term paid ahead).")
                           % {"at": _dt(grant.granted_at), "due": _dt(grant.deadline_at)})
        else:
            reasons.append(_("The 30-minute deadline (%(due)s) has not passed yet.")
                           % {"due": _dt(grant.deadline_at)})
    return eligible, reasons


def term_error_reports(payment: Payment, term, now=None) -> QuerySet[ErrorReport]:
    """The reports that bear on a term: filed during it, or — for a term that has started —
    filed in an earlier term of the same subscription, confirmed critical, with its deadline
    falling after this term started and still unresolved then (the error carried into the
    term the customer paid for next; they need not report it again). A deadline missed
    within the earlier term grounds a refund of that term, not of this one too."""
    if term is None:
        return ErrorReport.objects.none()
    now = now or timezone.now()
    filed_in_term = Q(reported_at__gte=term.starts_at, reported_at__lt=term.ends_at)
    if term.starts_at > now:
        return ErrorReport.objects.filter(filed_in_term, customer_id=payment.customer_id).order_by("reported_at")
    carried_in = (Q(reported_at__lt=term.starts_at, reported_at__gte=term.subscription.created_at,
                    confirmed_at__isnull=False, deadline_at__gt=term.starts_at)
                  & (Q(resolved_at__isnull=True) | Q(resolved_at__gt=term.starts_at)))
    return ErrorReport.objects.filter(filed_in_term | carried_in, customer_id=payment.customer_id).order_by(
        "reported_at")


def _critical_error(payment, term, grant, now) -> tuple[bool, list[str], list[str]]:
    if term is None:
        return False, [_("No paid term exists for this payment.")], []
    reports = list(term_error_reports(payment, term, now))
    evidence, qualifying = [], []
    for r in reports:
        evidence.append(_("Report #%(id)s of %(at)s: %(status)s; deadline %(due)s; resolved %(res)s.") % {
            "id": r.pk, "at": _dt(r.reported_at), "status": r.get_status_display().lower(),
            "due": _dt(r.deadline_at), "res": _dt(r.resolved_at)})
        if r.confirmed_at is None:
            if r.status == ErrorReport.Status.OPEN and r.resolved_at is None and now > r.deadline_at:
                # Never triaged: the Provider's silence cannot count against the customer.
                qualifying.append(_("Report #%(id)s was never triaged and its deadline %(due)s has passed: unless "
                                    "staff find it not critical, it counts as a critical error not resolved in "
                                    "time.") % {"id": r.pk, "due": _dt(r.deadline_at)})
            continue
        if r.resolved_at is None and now > r.deadline_at:
            qualifying.append(_("Critical error #%(id)s is still unresolved after its deadline %(due)s.")
                              % {"id": r.pk, "due": _dt(r.deadline_at)})
        elif r.resolved_at is not None and r.resolved_at > r.deadline_at:
            qualifying.append(_("Critical error #%(id)s was resolved at %(res)s, after its deadline %(due)s.")
                              % {"id": r.pk, "res": _dt(r.resolved_at), "due": _dt(r.deadline_at)})
    if qualifying:
        return True, qualifying, evidence
    if not reports:
        return False, [_("No critical-error report was filed during this term, and none was carried into it "
                         "unresolved.")], evidence
    if not any(r.confirmed_at for r in reports):
        return False, [_("No report filed during this term was confirmed as a critical error.")], evidence
    return False, [_("Every confirmed critical error of this term was resolved by its deadline, "
                     "or its deadline has not passed yet.")], evidence


def evaluate(*, payment: Payment, ground: str, now=None, asked_at=None) -> Evaluation:
    """Does the portal's own record support *ground* for *payment*? A recommendation.
    `asked_at`: when the customer asked (a request's creation), for what it judges as of then."""
    now = now or timezone.now()
    term, grant = _term_and_grant(payment)
    evidence = _payment_evidence(payment, term, grant)
    if payment.status != Payment.Status.SUCCEEDED:
        return Evaluation(False, [_("The payment did not succeed; nothing was charged.")], evidence)
    if payment.refundable_minor <= 0:
        return Evaluation(False, [_("The payment has already been refunded in full.")], evidence)
    if ground == RefundRequest.Ground.NO_ACCESS:
        eligible, reasons = _no_access(payment, term, grant, now, asked_at=asked_at)
    elif ground == RefundRequest.Ground.LATE:
        eligible, reasons = _late(payment, term, grant, now)
    elif ground == RefundRequest.Ground.CRITICAL_ERROR:
        eligible, reasons, more = _critical_error(payment, term, grant, now)
        evidence += more
    else:
        raise ValueError(f"unknown ground {ground!r}")
    return Evaluation(eligible, reasons, evidence)
