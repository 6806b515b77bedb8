"""Refund and critical-error state changes (clause 7 of the offer). Each function is one
transaction, locks rows in the fixed order customer → subscription → payment → refund,
records an event and defers e-mail and gateway work to on_commit. The gateway is called
only from refund_execute, with no transaction open."""

from __future__ import annotations

import logging

from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, gettext_noop

from billing import services as billing
from billing.gateways import GatewayError
from billing.models import Payment
from soldee import business_days, events
from soldee.locking import lock_customer as _lock_customer
from soldee.models import Event
from soldee.money import format_money
from soldee.staff_language import staff_language
from soldee.tasks import staff_alert_on_commit
from subscriptions.models import Subscription, Term
from subscriptions.services import term_refunded

from . import attachments, selectors
from .models import (
    BANK_TRANSFER_REF,
    CalendarException,
    ErrorReport,
    Refund,
    RefundRequest,
    _attachment_path,
)

log = logging.getLogger(__name__)


class RefundError(Exception):
    """A refund or report action that must not go ahead; the message is shown to the user."""




def _email(template: str, model: str, pk: int, key: str = "") -> None:
    """After commit, `template` to the row's customer; `key` tells apart e-mails of one
    template about one row (a deadline moved twice)."""
    from . import tasks

    if key:
        transaction.on_commit(lambda: tasks.customer_email.delay(template, model, pk, key))
    else:
        transaction.on_commit(lambda: tasks.customer_email.delay(template, model, pk))


# --- Critical-error reports ------------------------------------------------------------

def error_report_create(*, customer, what_fails: str, since, severity: str, attachment=None) -> ErrorReport:
    """File a report. Day 0 is the Almaty date of the report; the deadline is the end of
    the 5th Kazakhstan business day after it (soldee.business_days)."""
    stored_name, original_name = "", ""
    if attachment is not None:
        # Written before the transaction: storage may be remote, and a transaction never
        # waits on I/O. A rolled-back report leaves an orphan file, never a lost one.
        stored_name = default_storage.save(_attachment_path(None, attachment.name), attachment)
        original_name = attachments.kept_name(attachment.name)
    now = timezone.now()
    with transaction.atomic():
        _lock_customer(customer.pk)
        report = ErrorReport.objects.create(
            customer=customer, what_fails=what_fails, since=since, severity=severity,
            attachment=stored_name, attachment_name=original_name, reported_at=now,
            deadline_at=business_days.deadline_after(now),
        )
        events.record(verb="error_report.created", subject=report, customer=customer, actor=customer,
                      actor_kind=Event.ActorKind.CUSTOMER,
                      data={"severity": severity, "since": since.isoformat(),
                            "deadline_at": report.deadline_at.isoformat(),
                            "attachment": original_name})
        _email("emails/error_report_received", "error_report", report.pk)
        with staff_language():
            subject = _("Critical-error report #%(id)s from %(email)s") % {"id": report.pk, "email": customer.email}
            body = _("Severity: %(severity)s. Resolve by %(deadline)s (Almaty time).") % {
                "severity": report.get_severity_display(),
                "deadline": f"{timezone.localtime(report.deadline_at):%Y-%m-%d %H:%M}"}
        staff_alert_on_commit(subject, f"{body}\n\n{what_fails}")
    return report


def error_report_triage(*, report_id: int, by, critical: bool, reason: str) -> ErrorReport:
    """Staff confirm a report as critical or not, with a reason. An open report, or one
    judged not critical, can be (re)triaged; a confirmed or resolved one cannot."""
    if not reason.strip():
        raise RefundError(_("Give a reason."))
    customer_id = ErrorReport.objects.values_list("customer_id", flat=True).get(pk=report_id)
    with transaction.atomic():
        _lock_customer(customer_id)
        report = ErrorReport.objects.select_for_update().get(pk=report_id)
        allowed = {ErrorReport.Status.OPEN} | ({ErrorReport.Status.NOT_CRITICAL} if critical else set())
        if report.status not in allowed:
            raise RefundError(_("Report #%(id)s is already %(status)s.")
                              % {"id": report.pk, "status": report.get_status_display()})
        now = timezone.now()
        report.status = ErrorReport.Status.CONFIRMED if critical else ErrorReport.Status.NOT_CRITICAL
        report.confirmed_at = now if critical else None
        report.triage_reason, report.triaged_at, report.triaged_by = reason.strip(), now, by
        report.save()
        events.record(verb="error_report.confirmed" if critical else "error_report.not_critical",
                      subject=report, customer=report.customer, actor=by, actor_kind=Event.ActorKind.STAFF,
                      data={"reason": report.triage_reason, "deadline_at": report.deadline_at.isoformat()})
        if critical and report.deadline_at < now and report.deadline_missed_at is None:
            # Confirmed only after its deadline: missed now, and the confirmation e-mail says so;
            # the sweep does not tell the customer a second time (found by the explorer).
            report.deadline_missed_at = now
            report.save(update_fields=["deadline_missed_at"])
            events.record(verb="error_report.deadline_missed", subject=report, customer=report.customer,
                          data={"deadline_at": report.deadline_at.isoformat()})
        _email("emails/error_report_confirmed" if critical else "emails/error_report_not_critical",
               "error_report", report.pk)
    return report


def error_report_resolve(*, report_id: int, by, note: str) -> ErrorReport:
    if not note.strip():
        raise RefundError(_("Describe the resolution."))
    customer_id = ErrorReport.objects.values_list("customer_id", flat=True).get(pk=report_id)
    with transaction.atomic():
        _lock_customer(customer_id)
        report = ErrorReport.objects.select_for_update().get(pk=report_id)
        if report.status == ErrorReport.Status.RESOLVED:
            raise RefundError(_("Report #%(id)s is already resolved.") % {"id": report.pk})
        report.status = ErrorReport.Status.RESOLVED
        report.resolved_at, report.resolution_note, report.resolved_by = timezone.now(), note.strip(), by
        report.save()
        events.record(verb="error_report.resolved", subject=report, customer=report.customer, actor=by,
                      actor_kind=Event.ActorKind.STAFF,
                      data={"note": report.resolution_note, "deadline_at": report.deadline_at.isoformat(),
                            "on_time": report.resolved_at <= report.deadline_at})
        _email("emails/error_report_resolved", "error_report", report.pk)
    return report


def error_reports_deadline_sweep(*, now=None) -> int:
    """Beat: reports still unresolved past their deadline (5 business days), each noticed once.
    - Confirmed critical: event `error_report.deadline_missed` (in the customer's history), the
      customer is told they may ask for a refund (clause 7 b), staff are alerted;
      `deadline_missed_at` marks it. A report confirmed only after its deadline is marked by
      its confirmation (error_report_triage), whose e-mail says so.
    - Still awaiting triage: staff only (`error_report.triage_overdue`, not shown to the
      customer: no ground for a refund until staff confirm it).
    Returns how many were noticed."""
    now = now or timezone.now()
    noticed = 0
    for pk, customer_id in ErrorReport.objects.filter(
        status__in=[ErrorReport.Status.OPEN, ErrorReport.Status.CONFIRMED], resolved_at__isnull=True,
        deadline_at__lt=now, deadline_missed_at__isnull=True,
    ).values_list("pk", "customer_id")[:500]:
        with transaction.atomic():
            _lock_customer(customer_id)
            report = ErrorReport.objects.select_for_update().get(pk=pk)
            if report.deadline_missed_at is not None or report.resolved_at is not None or report.deadline_at >= now:
                continue
            due = report.deadline_at.isoformat()
            if report.status == ErrorReport.Status.CONFIRMED:
                report.deadline_missed_at = now
                report.save(update_fields=["deadline_missed_at"])
                events.record(verb="error_report.deadline_missed", subject=report, customer=report.customer,
                              data={"deadline_at": due})
                _email("emails/error_report_deadline_missed", "error_report", report.pk)
                why = gettext_noop("The customer may now ask for a refund (clause 7 b) and has been told.")
            elif report.status == ErrorReport.Status.OPEN and not events.for_subject(report).filter(
                    verb="error_report.triage_overdue").exists():
                events.record(verb="error_report.triage_overdue", subject=report, customer=report.customer,
                              data={"deadline_at": due})
                why = gettext_noop("It has not even been triaged: confirm it or judge it not critical.")
            else:
                continue
            with staff_language():
                staff_alert_on_commit(
                    _("Error report #%(id)s: deadline missed") % {"id": report.pk},
                    (_("Report #%(id)s from customer #%(customer)s was due by %(deadline)s (Almaty time) and is "
                       "confirmed critical.") if report.status == ErrorReport.Status.CONFIRMED else
                     _("Report #%(id)s from customer #%(customer)s was due by %(deadline)s (Almaty time) and is "
                       "awaiting triage.")) % {
                        "id": report.pk, "customer": customer_id,
                        "deadline": f"{timezone.localtime(report.deadline_at):%Y-%m-%d %H:%M}"}
                    + " " + _(why))
            noticed += 1
    return noticed


def calendar_exception_changed(*, exception: CalendarException, by, removed: bool = False) -> int:
    """Staff saved or removed a calendar exception (the row is already written). Record
    it and recompute the deadline of every report still running: a change of an
    exception's date moves deadlines over its old date as well as its new one. Returns how
    many deadlines moved."""
    moved = 0
    with transaction.atomic():
        events.record(verb="calendar.exception_removed" if removed else "calendar.exception_saved",
                      subject=exception, actor=by, actor_kind=Event.ActorKind.STAFF,
                      data={"date": exception.date.isoformat(), "kind": exception.kind, "note": exception.note})
        calendar = business_days.default_calendar()
        for report in ErrorReport.objects.select_for_update().filter(deadline_at__gte=timezone.now()):
            deadline = calendar.deadline_after(report.reported_at)
            if deadline != report.deadline_at:
                events.record(verb="error_report.deadline_changed", subject=report, customer=report.customer,
                              actor=by, actor_kind=Event.ActorKind.STAFF,
                              data={"from": report.deadline_at.isoformat(), "to": deadline.isoformat(),
                                    "calendar_date": exception.date.isoformat()})
                report.deadline_at = deadline
                report.save(update_fields=["deadline_at"])
                moved += 1
                if report.resolved_at is None and report.status in (ErrorReport.Status.OPEN,
                                                                     ErrorReport.Status.CONFIRMED):
                    # the date the e-mails promised has moved: say so (each move its own e-mail)
                    _email("emails/error_report_deadline_changed", "error_report", report.pk,
                           key=deadline.isoformat())
    return moved


# --- Refund requests -------------------------------------------------------------------

def refund_request_create(*, customer, payment_id: int, ground: str, explanation: str) -> RefundRequest:
    """The customer asks to refund one of their own payments on one of clause 7's grounds.
    One open request per payment (a unique constraint)."""
    if ground not in RefundRequest.Ground.values:
        raise RefundError(_("Choose one of the grounds listed in clause 7 of the offer."))
    with transaction.atomic():
        _lock_customer(customer.pk)
        payment = Payment.objects.select_for_update().get(pk=payment_id, customer=customer)
        if payment.status != Payment.Status.SUCCEEDED:
            raise RefundError(_("Only a completed payment can be refunded."))
        if payment.refundable_minor <= 0:
            raise RefundError(_("This payment has already been refunded in full."))
        if payment.refundable_minor - selectors.reserved_minor(payment.pk) <= 0:
            raise RefundError(_("A refund of this payment is already under way: we will e-mail you when it is done."))
        evaluation, stored = _evaluate_for_staff(payment=payment, ground=ground)
        try:
            with transaction.atomic():
                request = RefundRequest.objects.create(
                    customer=customer, payment=payment, ground=ground, explanation=explanation.strip(),
                    eligible=evaluation.eligible, evaluation=stored, evaluated_at=timezone.now(),
                )
        except IntegrityError:
            raise RefundError(_("You already have an open refund request for this payment.")) from None
        events.record(verb="refund_request.created", subject=request, customer=customer, actor=customer,
                      actor_kind=Event.ActorKind.CUSTOMER,
                      data={"payment": str(payment.public_id), "ground": ground,
                            "eligible_by_records": evaluation.eligible})
        _email("emails/refund_request_received", "refund_request", request.pk)
        with staff_language():
            staff_alert_on_commit(
                _("Refund request #%(id)s from %(email)s") % {"id": request.pk, "email": customer.email},
                (_("Ground: %(ground)s. Eligible by records: yes.") if evaluation.eligible else
                 _("Ground: %(ground)s. Eligible by records: no.")) % {"ground": request.get_ground_display()}
                + "\n" + "\n".join(stored.get("reasons", [])))
    return request


def next_term_refund_request(*, customer, subscription_id: int) -> RefundRequest:
    """Clause 6.4, "renewed upon expiration unless cancelled": the customer turns renewal
    off after the saved card paid the next term ahead but before that term began. In one
    transaction renewal goes off and the customer's refund request for that payment is
    opened, on the ground "access not granted" (nothing of that term was rendered). Staff
    decide as for any request; approving it cancels that term only (RefundOutcome.
    TERM_CANCELLED): the term in use runs to its end."""
    from subscriptions.services import CheckoutRefused, paid_ahead_term, subscription_set_auto_renew

    with transaction.atomic():
        _lock_customer(customer.pk)
        subscription = Subscription.objects.select_for_update().get(pk=subscription_id, customer=customer)
        term = paid_ahead_term(subscription) if subscription.is_live else None
        if term is None:
            raise RefundError(_("This subscription has no paid term that has not begun yet."))
        try:
            # Its e-mail would say access runs to the end of the very term being asked back:
            # the refund request's own e-mail tells the customer what happens.
            subscription_set_auto_renew(subscription_id=subscription.pk, on=False, by=customer, notify=False)
        except CheckoutRefused as exc:
            raise RefundError(str(exc)) from None
        return refund_request_create(
            customer=customer, payment_id=term.payment_id, ground=RefundRequest.Ground.NO_ACCESS,
            explanation=_("I turned automatic renewal off on %(date)s, before this paid term began (%(start)s): "
                          "please return this payment (clause 6.4 of the Public Offer).") % {
                "date": formats.date_format(timezone.localtime(), "DATETIME_FORMAT"),
                "start": formats.date_format(timezone.localtime(term.starts_at), "DATETIME_FORMAT")})


def _evaluate_for_staff(*, payment, ground, asked_at=None) -> tuple[selectors.Evaluation, dict]:
    """The evaluation stored with a request and sent in staff alerts: written in
    STAFF_RECORDS_LANGUAGE, whatever language the customer who asked reads."""
    with staff_language():
        evaluation = selectors.evaluate(payment=payment, ground=ground, asked_at=asked_at)
        return evaluation, evaluation.as_dict()


def refund_request_open_unapplied(*, payment_id: int) -> RefundRequest | None:
    """A paid payment that bought nothing (it started no term: a second checkout paid in
    parallel, a renewal charged for an ended subscription or for a term already paid):
    open a refund request on the customer's behalf, on the ground "access not granted"
    (clause 7), for staff to decide and execute like any other. The customer is told.
    Nothing is opened when the payment has a term, is not paid, is refunded, or already
    has a refund request (open or decided). Returns the request opened, or None."""
    with transaction.atomic():
        customer_id = Payment.objects.values_list("customer_id", flat=True).get(pk=payment_id)
        _lock_customer(customer_id)
        payment = Payment.objects.select_for_update(of=("self",)).select_related("customer").get(pk=payment_id)
        if (payment.status != Payment.Status.SUCCEEDED or Term.objects.filter(payment=payment).exists()
                or RefundRequest.objects.filter(payment=payment).exists()
                or payment.refundable_minor - selectors.reserved_minor(payment.pk) <= 0):
            return None
        ground = RefundRequest.Ground.NO_ACCESS
        evaluation, stored = _evaluate_for_staff(payment=payment, ground=ground)
        with translation.override(payment.customer.language or "ru"):
            explanation = str(UNAPPLIED_EXPLANATION)
        request = RefundRequest.objects.create(
            customer_id=customer_id, payment=payment, ground=ground, explanation=explanation,
            eligible=evaluation.eligible, evaluation=stored, evaluated_at=timezone.now(),
        )
        events.record(verb="refund_request.opened_for_customer", subject=request, customer=customer_id,
                      actor_kind=Event.ActorKind.SYSTEM,
                      data={"payment": str(payment.public_id), "ground": ground,
                            "eligible_by_records": evaluation.eligible, "opened_for": "unapplied_payment"})
        _email("emails/refund_request_opened", "refund_request", request.pk)
    return request


def refund_requests_open_for_unapplied(*, days: int = 30) -> int:
    """The sweep behind `refund_request_open_unapplied`: payments the event log marks as
    bought nothing in the last `days`, with no refund request yet. Returns requests opened."""
    since = timezone.now() - timezone.timedelta(days=days)
    marked = {int(pk) for pk in Event.objects.filter(verb__in=events.UNAPPLIED_PAYMENT_VERBS, subject_type="billing.payment",
                                                      created_at__gte=since).values_list("subject_id", flat=True)}
    waiting = Payment.objects.filter(pk__in=marked).exclude(refund_requests__isnull=False).values_list("pk", flat=True)
    opened = 0
    for payment_id in waiting:
        try:
            opened += refund_request_open_unapplied(payment_id=payment_id) is not None
        except Exception:  # one payment must not stop the sweep
            log.exception("opening a refund request for unapplied payment %s failed", payment_id)
    return opened


UNAPPLIED_EXPLANATION = gettext_lazy(
    "Opened by Soldee on your behalf: this payment started no paid term and gave no access (the "
    "term it was for was already paid, you already had a subscription, the same order was paid "
    "twice, automatic renewal had been turned off, or the subscription had ended when the money "
    "arrived). Our staff will review it and return the money the way it was paid.")


def refund_request_reevaluate(*, request_id: int) -> RefundRequest:
    """Refresh the recommendation of an open request (records change: deadlines pass)."""
    with transaction.atomic():
        request = RefundRequest.objects.select_for_update().select_related("payment").get(pk=request_id)
        if request.status != RefundRequest.Status.OPEN:
            return request
        evaluation, stored = _evaluate_for_staff(payment=request.payment, ground=request.ground,
                                                 asked_at=request.created_at)
        request.eligible, request.evaluation = evaluation.eligible, stored
        request.evaluated_at = timezone.now()
        request.save(update_fields=["eligible", "evaluation", "evaluated_at"])
    return request


def refund_request_approve(*, request_id: int, by, amount_minor: int | None = None, note: str = "") -> Refund:
    """Approve in full (amount None) or in part. Records the refund intent (pending, with
    its idempotency key) in this transaction; the gateway is called after commit."""
    customer_id, payment_id = RefundRequest.objects.values_list("customer_id", "payment_id").get(pk=request_id)
    with transaction.atomic():
        _lock_customer(customer_id)
        payment = Payment.objects.select_for_update().get(pk=payment_id)
        request = RefundRequest.objects.select_for_update().get(pk=request_id)
        if request.status != RefundRequest.Status.OPEN:
            raise RefundError(_("Refund request #%(id)s is already %(status)s.")
                              % {"id": request.pk, "status": request.get_status_display()})
        available = payment.refundable_minor - selectors.reserved_minor(payment.pk)
        amount = available if amount_minor is None else int(amount_minor)
        if available <= 0:
            raise RefundError(_("Nothing is left to refund on this payment."))
        if amount <= 0 or amount > available:
            raise RefundError(_("The amount must be more than zero and at most %(max)s, what was paid "
                                "and not yet refunded.") % {"max": format_money(available, payment.currency)})
        now = timezone.now()
        request.status, request.decided_at, request.decided_by = RefundRequest.Status.APPROVED, now, by
        request.decision_reason = note.strip()
        request.save()
        try:
            with transaction.atomic():
                refund = Refund.objects.create(
                    request=request, payment=payment, customer_id=customer_id, amount_minor=amount,
                    # Full: after it (and the refunds already approved) nothing is left.
                    currency=payment.currency, is_full=amount == available,
                    idempotency_key=f"refund:{payment.public_id}:{request.pk}", approved_by=by,
                )
        except IntegrityError:
            raise RefundError(_("Refund request #%(id)s is already approved.") % {"id": request.pk}) from None
        events.record(verb="refund_request.approved", subject=request, customer=request.customer, actor=by,
                      actor_kind=Event.ActorKind.STAFF,
                      data={"amount_minor": amount, "currency": payment.currency, "full": refund.is_full,
                            "note": request.decision_reason, "eligible_by_records": request.eligible})
        events.record(verb="refund.created", subject=refund, customer=request.customer, actor=by,
                      actor_kind=Event.ActorKind.STAFF,
                      data={"amount_minor": amount, "currency": payment.currency, "payment": str(payment.public_id),
                            "idempotency_key": refund.idempotency_key})
        from . import tasks

        _stop_renewal_for_full_refund(refund=refund, payment=payment, by=by, reason="full refund approved")
        if payment.method == Payment.Method.BANK_TRANSFER:
            _await_bank_transfer(refund=refund, payment=payment)
        else:
            transaction.on_commit(lambda: tasks.refund_execute.delay(refund.pk))
        _email("emails/refund_approved", "refund_request", request.pk)
    return refund


def _stop_renewal_for_full_refund(*, refund: Refund, payment: Payment, by, reason: str) -> None:
    """Inside the caller's transaction, customer locked. A full refund that will end the
    subscription is approved: the subscription ends when the money is back, which may be
    days from now (a card the gateway refuses is paid back by bank transfer; a payment by
    bank transfer waits for accounting), so no renewal charges the customer being refunded
    meanwhile."""
    from subscriptions.services import RefundOutcome, refund_outcome, renewal_stop_for_refund

    term = Term.objects.filter(payment_id=payment.pk).select_related("subscription").first()
    if refund.is_full and term is not None and refund_outcome(term)[0] == RefundOutcome.ENDS_NOW:
        renewal_stop_for_refund(subscription_id=term.subscription_id, by=by, reason=reason)


def _await_bank_transfer(*, refund: Refund, payment: Payment, by=None, reason: str = "",
                         checked_at_gateway: bool = False) -> None:
    """Inside the caller's transaction, refund row locked: no gateway holds this money (a
    payment by bank transfer), or the gateway refused to return it to the card for good,
    so accounting pays it back by bank transfer and records it (refund_record_bank_transfer)."""
    card_refused = payment.method != Payment.Method.BANK_TRANSFER
    refund.status = Refund.Status.AWAITING_TRANSFER
    refund.save(update_fields=["status", "updated_at"])
    # Renewal went off at approval; a refund approved before that rule stops it here.
    _stop_renewal_for_full_refund(refund=refund, payment=payment, by=by or refund.approved_by,
                                  reason="full refund approved, paid back by bank transfer")
    data = {"amount_minor": refund.amount_minor, "currency": refund.currency, "payment": str(payment.public_id),
            "paid_by": payment.gateway_ref}
    if card_refused:
        data.update(card_refused=True, reason=reason, gateway_error=refund.last_error)
        if checked_at_gateway:  # staff looked: the try whose answer was lost made no refund
            data["checked_at_gateway"] = True
    events.record(verb="refund.awaiting_transfer", subject=refund, customer=refund.customer_id, actor=by,
                  actor_kind=Event.ActorKind.STAFF if by else Event.ActorKind.SYSTEM, data=data)
    with staff_language():  # the money too, as the alert's language writes it, whoever acted
        params = {"id": refund.pk, "request": refund.request_id,
                  "amount": format_money(refund.amount_minor, refund.currency),
                  "payment": payment.public_id, "card": payment.card_mask or "—", "error": refund.last_error,
                  "paid_by": payment.gateway_ref}
        subject = _("Refund #%(id)s (request #%(request)s): pay it back by bank transfer") % params
        if card_refused:
            body = " ".join((
                _("The payment gateway refused to return %(amount)s of payment %(payment)s to card %(card)s "
                  "(%(error)s).") % params,
                _("The customer is asked by e-mail for a bank account in their name.")
                if payment.customer.is_active else
                _("The account is deleted, so no e-mail can ask for a bank account: contact the customer through "
                  "the details on their receipt."),
                _("Pay %(amount)s there, then record the transfer in the admin (Refunds → #%(id)s → Record the "
                  "bank transfer).") % params))
        else:
            body = _("Payment %(payment)s came by bank transfer (%(paid_by)s). Pay %(amount)s back to the account "
                     "it came from, then record the transfer in the admin (Refunds → #%(id)s → Record the bank "
                     "transfer).") % params
    staff_alert_on_commit(subject, body)
    if card_refused:
        _email("emails/refund_by_transfer", "refund", refund.pk)


def _left_to_refund(*, refund: Refund, payment: Payment) -> None:
    """Payment row locked. Raise unless what is left on the payment, besides this refund's
    own reservation, still covers it: sending a failed refund again after another refund
    (or the books) took the money would return it twice."""
    left = payment.refundable_minor - selectors.reserved_minor(payment.pk, exclude_refund=refund.pk)
    if left < refund.amount_minor:
        raise RefundError(_("Not sent again: only %(left)s of this payment is left to refund, less than "
                            "this refund's %(amount)s.") % {
            "left": format_money(max(left, 0), payment.currency),
            "amount": format_money(refund.amount_minor, refund.currency)})


def refund_pay_by_bank_transfer(*, refund_id: int, by, reason: str, checked_at_gateway: bool = False) -> Refund:
    """The gateway refused a card refund for good (the card is closed, the payment too old
    for the acquirer): staff have accounting pay it back by bank transfer instead. The
    customer is asked for a bank account; the transfer is then recorded like any other
    (refund_record_bank_transfer). Only for a refund the gateway refused: one the gateway
    returned while the books refused it (its reference kept) is paid already, and one whose
    answer was lost (`answer_lost`) may be: staff first check in the gateway's back office
    that it was not made (`checked_at_gateway`, recorded)."""
    reason = " ".join(reason.split())
    if not reason:
        raise RefundError(_("Give the reason the refund cannot go back to the card."))
    customer_id, payment_id = Refund.objects.values_list("customer_id", "payment_id").get(pk=refund_id)
    with transaction.atomic():
        _lock_customer(customer_id)
        payment = Payment.objects.select_for_update().get(pk=payment_id)
        refund = Refund.objects.select_for_update().get(pk=refund_id)
        if refund.status != Refund.Status.FAILED or payment.method == Payment.Method.BANK_TRANSFER:
            raise RefundError(_("Refund #%(id)s was not refused by the payment gateway (it is %(status)s).")
                              % {"id": refund.pk, "status": refund.get_status_display()})
        if refund.gateway_ref:
            raise RefundError(_("The payment gateway did return refund #%(id)s (%(ref)s); only recording it "
                                "failed. Do not pay it again.") % {"id": refund.pk, "ref": refund.gateway_ref})
        if refund.answer_lost and not checked_at_gateway:
            raise RefundError(_("The gateway's answer to an earlier try of refund #%(id)s was lost: the money may "
                                "have gone back already. Look for the refund in the gateway's back office; only if "
                                "it was not made, confirm that you checked.") % {"id": refund.pk})
        _left_to_refund(refund=refund, payment=payment)
        _await_bank_transfer(refund=refund, payment=payment, by=by, reason=reason,
                             checked_at_gateway=refund.answer_lost)
    return refund


def refund_record_bank_transfer(*, refund_id: int, reference: str, by, transferred_at=None) -> Refund:
    """Staff paid an approved refund back by bank transfer: record it with the bank's
    reference (payment order number) and when the bank sent it (`transferred_at`, from the
    statement; default now): the refund's date on the refund note, the export and the
    customer's e-mail. The same record as a gateway refund: the payment's refunded amount,
    the refund note, the end of the subscription on a full refund, the customer's e-mail.
    Once only; a bank reference belongs to one refund."""
    reference = " ".join(reference.split())
    if not reference:
        raise RefundError(_("Enter the bank's reference of the transfer (the payment order number)."))
    # Kept upper-cased by Python, which folds every alphabet: "ПП 123" and "пп 123" are one
    # transfer whatever the database's UPPER knows (SQLite's only Latin; found by the staff explorer).
    gateway_ref = f"{BANK_TRANSFER_REF}{reference.upper()}"[:128]
    customer_id = Refund.objects.values_list("customer_id", flat=True).get(pk=refund_id)
    with transaction.atomic():
        _lock_customer(customer_id)  # every change of this customer's refunds waits here
        refund = Refund.objects.get(pk=refund_id)
        if refund.status != Refund.Status.AWAITING_TRANSFER:
            raise RefundError(_("Refund #%(id)s is not waiting for a bank transfer (it is %(status)s).")
                              % {"id": refund.pk, "status": refund.get_status_display()})
        now = timezone.now()
        transferred_at = transferred_at or now
        if transferred_at > now or transferred_at < refund.created_at.replace(second=0, microsecond=0):
            raise RefundError(_("The transfer must be dated between the refund's approval (%(approved)s) and now.")
                              % {"approved": formats.date_format(timezone.localtime(refund.created_at),
                                                                "DATETIME_FORMAT")})
        used = (Refund.objects.filter(gateway_ref__iexact=gateway_ref)  # "PP 123" and "pp 123": one transfer
                .exclude(pk=refund.pk).values_list("pk", flat=True).first())
        if used is not None:
            raise RefundError(_("The bank reference %(reference)s is already recorded for refund #%(id)s: one "
                                "transfer pays back one refund.") % {"reference": reference, "id": used})
        events.record(verb="refund.transfer_recorded", subject=refund, customer=customer_id, actor=by,
                      actor_kind=Event.ActorKind.STAFF,
                      data={"reference": reference, "transferred_at": transferred_at.isoformat()})
        try:
            with transaction.atomic():
                return _refund_record(refund_id=refund.pk, gateway_ref=gateway_ref, by=by, done_at=transferred_at)
        except IntegrityError as exc:  # another customer's refund took the reference a moment ago
            if "refund_bank_reference_once" not in str(exc):
                raise
            raise RefundError(_("The bank reference %(reference)s was recorded for another refund a moment ago: "
                                "one transfer pays back one refund.") % {"reference": reference}) from exc


def refund_request_withdraw(*, customer, request_id: int, why: str = "") -> RefundRequest:
    """The customer takes back their own open request (asked on the wrong ground, or they
    changed their mind); they may then ask again. Staff decide nothing on it."""
    with transaction.atomic():
        _lock_customer(customer.pk)
        request = RefundRequest.objects.select_for_update().get(pk=request_id, customer=customer)
        if request.status != RefundRequest.Status.OPEN:
            raise RefundError(_("Refund request #%(id)s is already %(status)s.")
                              % {"id": request.pk, "status": request.get_status_display()})
        _withdraw(request, by=customer, why=why)
    return request


def _withdraw(request: RefundRequest, *, by, why: str) -> None:
    """Inside the caller's transaction, customer and request locked. The customer is
    e-mailed that it is withdrawn (by them, or with renewal turned back on) and how to ask again."""
    request.status, request.decided_at, request.decided_by = RefundRequest.Status.WITHDRAWN, timezone.now(), by
    request.decision_reason = why
    request.save()
    staff = by is not None and by.pk != request.customer_id
    events.record(verb="refund_request.withdrawn", subject=request, customer=request.customer_id, actor=by,
                  actor_kind=Event.ActorKind.STAFF if staff else Event.ActorKind.CUSTOMER,
                  data={"why": why} if why else {})
    _email("emails/refund_request_withdrawn", "refund_request", request.pk)


def next_term_requests_withdraw(*, subscription: Subscription, by) -> int:
    """Renewal turned back on (subscriptions.services.on_renewal_resumed; inside its
    transaction, the customer locked). By the customer: they keep the paid-ahead term after
    all, so their open request for its payment back on ground (a) — the one "turn renewal
    off and ask for the payment back" opens — is withdrawn; approving it would cancel the
    term they now keep. (Staff turning it on leave the customer's requests to staff.) A
    refund of that term already approved refuses renewal on: it cancels the term."""
    from subscriptions.services import CheckoutRefused, paid_ahead_term

    term = paid_ahead_term(subscription)
    if term is None:
        return 0
    customer = by is not None and by.pk == subscription.customer_id
    # Only refunds under way that return all of it (a full one, or parts with what was
    # refunded before) cancel the term (refund_succeeded): a partial one leaves it paid.
    under_way = Refund.objects.filter(payment_id=term.payment_id).exclude(status=Refund.Status.SUCCEEDED)
    returning = sum(under_way.values_list("amount_minor", flat=True))
    if returning and term.payment.refunded_minor + returning >= term.payment.amount_minor:
        if customer:
            raise CheckoutRefused(_("The payment for the next term is being returned to you (an approved refund): "
                                    "that term is cancelled, so renewal cannot be turned back on now."))
        raise CheckoutRefused(_(  # staff acting for the customer: what happened and what is left
            "Renewal cannot be turned back on: a refund of the payment for the next term (%(payment)s) is approved "
            "and under way, which cancels that term, so the subscription ends with the term in use on %(date)s. "
            "Nothing was changed. If the customer wants to go on, they buy a plan again in their account once it "
            "has ended.") % {"payment": term.payment.public_id,
                             "date": formats.date_format(timezone.localtime(term.starts_at), "DATETIME_FORMAT")})
    if not customer:
        return 0
    requests = list(RefundRequest.objects.select_for_update().filter(
        payment_id=term.payment_id, customer_id=subscription.customer_id, status=RefundRequest.Status.OPEN,
        ground=RefundRequest.Ground.NO_ACCESS))
    with translation.override(by.language or "ru"):  # read by the customer on the request's page
        why = str(gettext_lazy("Automatic renewal was turned back on: the paid term is kept."))
    for request in requests:
        _withdraw(request, by=by, why=why)
    return len(requests)


def refund_request_reject(*, request_id: int, by, reason: str) -> RefundRequest:
    if not reason.strip():
        raise RefundError(_("Give a reason for the rejection."))
    customer_id = RefundRequest.objects.values_list("customer_id", flat=True).get(pk=request_id)
    with transaction.atomic():
        _lock_customer(customer_id)
        request = RefundRequest.objects.select_for_update().get(pk=request_id)
        if request.status != RefundRequest.Status.OPEN:
            raise RefundError(_("Refund request #%(id)s is already %(status)s.")
                              % {"id": request.pk, "status": request.get_status_display()})
        request.status, request.decided_at, request.decided_by = RefundRequest.Status.REJECTED, timezone.now(), by
        request.decision_reason = reason.strip()
        request.save()
        events.record(verb="refund_request.rejected", subject=request, customer=request.customer, actor=by,
                      actor_kind=Event.ActorKind.STAFF,
                      data={"reason": request.decision_reason, "eligible_by_records": request.eligible})
        _email("emails/refund_rejected", "refund_request", request.pk)
    return request


# --- Executing a refund exactly once ----------------------------------------------------

def _refund_claim(*, refund_id: int, by, retry_failed: bool) -> Refund | None:
    customer_id, payment_id = Refund.objects.values_list("customer_id", "payment_id").get(pk=refund_id)
    with transaction.atomic():
        _lock_customer(customer_id)  # the customer first, as every service does
        payment = Payment.objects.select_for_update().get(pk=payment_id)
        refund = Refund.objects.select_for_update().get(pk=refund_id)
        allowed = {Refund.Status.PENDING, Refund.Status.EXECUTING}
        if retry_failed:
            allowed.add(Refund.Status.FAILED)
        if refund.status not in allowed:
            return None
        if refund.status == Refund.Status.FAILED:
            _left_to_refund(refund=refund, payment=payment)
        if payment.method == Payment.Method.BANK_TRANSFER:  # no gateway holds it
            if refund.status != Refund.Status.FAILED:  # approved before this rule: accounting pays it
                _await_bank_transfer(refund=refund, payment=payment)
            return None  # a failed one (its recording was refused) waits for staff to look
        previous = refund.status
        refund.status = Refund.Status.EXECUTING
        refund.attempts += 1
        refund.save(update_fields=["status", "attempts", "updated_at"])
        events.record(verb="refund.executing", subject=refund, customer=refund.customer, actor=by,
                      actor_kind=Event.ActorKind.STAFF if by else Event.ActorKind.SYSTEM,
                      data={"attempt": refund.attempts, "from": previous})
    return refund


def _refund_fail(*, refund: Refund, error: str, gateway_ref: str = "") -> None:
    """Inside the caller's transaction, refund row locked. `gateway_ref`: the gateway (or
    the bank transfer) did return the money and only the books refused it, so the refund
    must never be paid another way."""
    refund.status, refund.last_error = Refund.Status.FAILED, error[:2000]
    refund.gateway_ref = gateway_ref[:128] or refund.gateway_ref  # a later refusal does not forget it
    refund.save(update_fields=["status", "last_error", "gateway_ref", "answer_lost", "updated_at"])
    events.record(verb="refund.failed", subject=refund, customer=refund.customer,
                  actor_kind=Event.ActorKind.GATEWAY, data={"error": refund.last_error})
    payment = refund.payment
    with staff_language():
        staff_alert_on_commit(
            _("Refund #%(id)s (request #%(request)s) failed") % {"id": refund.pk, "request": refund.request_id},
            _("%(amount)s of payment %(payment)s (%(email)s, %(method)s %(card)s): %(error)s\n"
              "Admin: Refunds → Refunds → #%(id)s (retry, or pay it back by bank transfer).") % {
                "id": refund.pk, "amount": format_money(refund.amount_minor, refund.currency),
                "payment": payment.public_id, "email": payment.customer.email,
                "method": payment.get_method_display(), "card": payment.card_mask, "error": error})


def _refund_record(*, refund_id: int, gateway_ref: str, by=None, done_at=None) -> Refund:
    refund = Refund.objects.get(pk=refund_id)
    term = Term.objects.filter(payment_id=refund.payment_id).first()
    with transaction.atomic():
        _lock_customer(refund.customer_id)
        if term is not None:
            Subscription.objects.select_for_update().filter(pk=term.subscription_id).first()
        Payment.objects.select_for_update().filter(pk=refund.payment_id).first()
        refund = Refund.objects.select_for_update().get(pk=refund_id)
        if refund.status == Refund.Status.SUCCEEDED:
            return refund  # a concurrent execution recorded it first
        try:
            with transaction.atomic():
                payment = billing.payment_refund_record(
                    payment_id=refund.payment_id, amount_minor=refund.amount_minor, gateway_ref=gateway_ref,
                    refund_key=refund.idempotency_key, by=refund.approved_by, refunded_at=done_at,
                )
        except (billing.RefundRefused, IntegrityError) as exc:
            # The gateway returned money the books cannot take: staff must look.
            _refund_fail(refund=refund, error=f"gateway refunded ({gateway_ref}) but recording failed: {exc}",
                         gateway_ref=gateway_ref)
            return refund
        refund.status, refund.gateway_ref = Refund.Status.SUCCEEDED, gateway_ref
        refund.recorded_at = timezone.now()
        refund.succeeded_at = done_at or refund.recorded_at
        refund.last_error, refund.answer_lost = "", False
        refund.save()
        events.record(verb="refund.succeeded", subject=refund, customer=refund.customer, actor=by,
                      actor_kind=Event.ActorKind.STAFF if by else Event.ActorKind.GATEWAY,
                      data={"amount_minor": refund.amount_minor, "currency": refund.currency,
                            "gateway_ref": gateway_ref, "refunded_minor": payment.refunded_minor, "full": refund.is_full})
        if term is not None and (refund.is_full or payment.refunded_minor >= payment.amount_minor):
            term_refunded(term=term, by=refund.approved_by)  # the subscription as refund_outcome says
        _email("emails/refund_completed", "refund", refund.pk)
    return refund


def refund_execute(*, refund_id: int, by=None, retry_failed: bool = False) -> Refund:
    """Claim the refund (pending → executing), call the gateway with NO transaction open,
    then record the result. Safe to run twice or concurrently: the gateway de-duplicates
    on the refund's idempotency key and the result is recorded once, under the row lock.
    Raises GatewayError when the outcome is unknown (the refund stays executing and is
    retried by the task, the sweeper or staff)."""
    refund = _refund_claim(refund_id=refund_id, by=by, retry_failed=retry_failed)
    if refund is None:
        return Refund.objects.get(pk=refund_id)
    try:
        gateway_ref = billing.payment_refund_execute(
            payment_id=refund.payment_id, amount_minor=refund.amount_minor,
            idempotency_key=refund.idempotency_key,
            # a retry must stay within the gateway's idempotency window (first try: approval)
            not_before=refund.created_at if refund.attempts > 1 else None,
        )
    except GatewayError as exc:
        # The gateway may have refunded: until an answer for this key settles it, the money
        # is not paid back any other way (refund_pay_by_bank_transfer).
        Refund.objects.filter(pk=refund.pk, status=Refund.Status.EXECUTING).update(  # not one recorded meanwhile
            last_error=str(exc)[:2000], answer_lost=True)
        with transaction.atomic():
            events.record(verb="refund.gateway_error", subject=refund, customer=refund.customer,
                          actor_kind=Event.ActorKind.GATEWAY,
                          data={"attempt": refund.attempts, "error": str(exc)[:500]})
        raise
    except billing.RefundRefused as exc:
        with transaction.atomic():
            refund = Refund.objects.select_for_update().get(pk=refund.pk)
            if refund.status == Refund.Status.EXECUTING:
                if isinstance(exc, billing.RefundDeclinedByGateway):
                    # The gateway's no to this key settles any lost answer of an earlier try:
                    # it would have answered with that refund had it been made.
                    refund.answer_lost = False
                _refund_fail(refund=refund, error=str(exc))
        return refund
    return _refund_record(refund_id=refund.pk, gateway_ref=gateway_ref)
