"""Clause 7 grounds, evaluated from the portal's records: each eligible and not, with
the critical-error deadline across Nauryz 2026 and across a transferred working day.

Nauryz 2026: Sat 21, Sun 22 and Mon 23 March are holidays; 21/22 fall on a weekend, so
Tue 24 and Wed 25 are days off too (observed). A report on Thu 19 March (day 0) has
business days Fri 20 (1), Thu 26 (2), Fri 27 (3), Mon 30 (4), Tue 31 (5): deadline
31 March 23:59:59 Almaty. Counting weekdays only would give Thu 26.
"""

from datetime import datetime, timedelta

import pytest
import time_machine

from refunds import services
from refunds.models import CalendarException, ErrorReport, RefundRequest
from refunds.selectors import evaluate
from soldee.business_days import ALMATY
from subscriptions.services import access_flag_breach

from .conftest import grant

NO_ACCESS = RefundRequest.Ground.NO_ACCESS
LATE = RefundRequest.Ground.LATE
CRITICAL = RefundRequest.Ground.CRITICAL_ERROR
REPORTED = datetime(2026, 3, 19, 12, 0, tzinfo=ALMATY)


def almaty(*args) -> datetime:
    return datetime(*args, tzinfo=ALMATY)


def file_report(customer, at=REPORTED, *, staff=None, confirm=True, resolve_at=None) -> ErrorReport:
    with time_machine.travel(at, tick=False):
        report = services.error_report_create(customer=customer, what_fails="The agent answers 500 to everything",
                                              since=at - timedelta(hours=2), severity="blocker")
    if staff is not None:
        with time_machine.travel(at + timedelta(hours=3), tick=False):
            services.error_report_triage(report_id=report.pk, by=staff, critical=confirm,
                                         reason="Reproduced" if confirm else "Works as designed")
    if resolve_at is not None:
        with time_machine.travel(resolve_at, tick=False):
            services.error_report_resolve(report_id=report.pk, by=staff, note="Fixed the model router")
    report.refresh_from_db()
    return report


# --- (a) access not granted -------------------------------------------------------------

def test_no_access_is_eligible_when_access_was_never_granted(customer, buy):
    payment = buy(customer)
    result = evaluate(payment=payment, ground=NO_ACCESS, now=payment.paid_at + timedelta(hours=2))
    assert result.eligible
    assert "No access was ever granted" in result.reasons[0]


def test_no_access_is_not_eligible_once_access_was_granted(customer, buy):
    payment = buy(customer)
    grant(payment, 5)
    result = evaluate(payment=payment, ground=NO_ACCESS, now=payment.paid_at + timedelta(days=2))
    assert not result.eligible
    assert "deemed rendered" in result.reasons[0]


def test_no_access_is_not_yet_eligible_within_the_30_minutes(customer, buy):
    payment = buy(customer)
    assert not evaluate(payment=payment, ground=NO_ACCESS, now=payment.paid_at + timedelta(minutes=10)).eligible
    assert evaluate(payment=payment, ground=NO_ACCESS, now=payment.paid_at + timedelta(minutes=31)).eligible


# --- (c) not provided on time -----------------------------------------------------------

def test_late_is_eligible_when_access_came_after_30_minutes(customer, buy):
    payment = buy(customer)
    grant(payment, 45)
    result = evaluate(payment=payment, ground=LATE)
    assert result.eligible
    assert any("45 minutes" in reason for reason in result.reasons)


def test_late_is_eligible_when_a_provisioning_breach_was_recorded(customer, buy):
    payment = buy(customer)
    with time_machine.travel(payment.paid_at + timedelta(minutes=31), tick=False):
        assert access_flag_breach(grant_id=payment.term.access_grant.pk)
    grant(payment, 40)
    payment.refresh_from_db()
    result = evaluate(payment=payment, ground=LATE)
    assert result.eligible
    assert any("breach" in r for r in result.reasons)


@pytest.mark.parametrize("minutes", [1, 29, 30])
def test_late_is_not_eligible_when_access_came_within_30_minutes(customer, buy, minutes):
    payment = buy(customer)
    grant(payment, minutes)
    result = evaluate(payment=payment, ground=LATE, now=payment.paid_at + timedelta(days=3))
    assert not result.eligible
    assert "by its deadline" in result.reasons[0]


# --- (b) critical errors not resolved within 5 business days ------------------------------

def test_critical_error_is_not_eligible_without_any_report(customer, buy):
    payment = buy(customer)
    grant(payment, 1)
    result = evaluate(payment=payment, ground=CRITICAL, now=almaty(2026, 4, 5, 12, 0))
    assert not result.eligible
    assert "No critical-error report" in result.reasons[0]


def test_report_deadline_is_stored_across_nauryz(customer, buy):
    buy(customer)
    report = file_report(customer)
    assert report.deadline_at == almaty(2026, 3, 31, 23, 59, 59, 999999)


def test_critical_error_unresolved_is_eligible_only_after_the_nauryz_deadline(customer, buy, staff):
    payment = buy(customer)
    grant(payment, 1)
    file_report(customer, staff=staff)
    # Thu 26 March would be the deadline without the holidays: not yet.
    assert not evaluate(payment=payment, ground=CRITICAL, now=almaty(2026, 3, 27, 12, 0)).eligible
    assert not evaluate(payment=payment, ground=CRITICAL, now=almaty(2026, 3, 31, 23, 59)).eligible
    result = evaluate(payment=payment, ground=CRITICAL, now=almaty(2026, 4, 1, 0, 0, 1))
    assert result.eligible
    assert "still unresolved" in result.reasons[0]


def test_critical_error_resolved_within_the_nauryz_deadline_is_not_eligible(customer, buy, staff):
    payment = buy(customer)
    grant(payment, 1)
    file_report(customer, staff=staff, resolve_at=almaty(2026, 3, 27, 10, 0))
    result = evaluate(payment=payment, ground=CRITICAL, now=almaty(2026, 4, 5, 12, 0))
    assert not result.eligible


def test_critical_error_resolved_after_the_deadline_is_eligible(customer, buy, staff):
    payment = buy(customer)
    grant(payment, 1)
    file_report(customer, staff=staff, resolve_at=almaty(2026, 4, 1, 9, 0))
    result = evaluate(payment=payment, ground=CRITICAL, now=almaty(2026, 4, 5, 12, 0))
    assert result.eligible
    assert "after its deadline" in result.reasons[0]


@pytest.mark.parametrize(("working_saturday", "deadline_day", "eligible"), [
    (False, 31, False),  # 26, 27, 30, 31: resolved on Tue 31 at 10:00 is on time
    (True, 30, True),    # Sat 28 is a transferred working day: deadline Mon 30, so Tue 31 is late
])
def test_transferred_working_day_shortens_the_deadline(customer, buy, staff, working_saturday,
                                                       deadline_day, eligible):
    if working_saturday:
        CalendarException.objects.create(date=almaty(2026, 3, 28).date(),
                                          kind=CalendarException.Kind.WORKING_DAY, note="Decree (test)")
    payment = buy(customer)
    grant(payment, 1)
    report = file_report(customer, staff=staff, resolve_at=almaty(2026, 3, 31, 10, 0))
    assert report.deadline_at == almaty(2026, 3, deadline_day, 23, 59, 59, 999999)
    assert evaluate(payment=payment, ground=CRITICAL, now=almaty(2026, 4, 5)).eligible is eligible


def test_staff_day_off_extends_the_deadline(customer, buy, staff):
    CalendarException.objects.create(date=almaty(2026, 3, 31).date(), kind=CalendarException.Kind.DAY_OFF)
    buy(customer)
    assert file_report(customer).deadline_at == almaty(2026, 4, 1, 23, 59, 59, 999999)


def test_calendar_change_moves_a_running_deadline(customer, buy, staff):
    buy(customer)
    report = file_report(customer)
    with time_machine.travel(almaty(2026, 3, 20, 9, 0), tick=False):
        exc = CalendarException.objects.create(date=almaty(2026, 3, 28).date(),
                                               kind=CalendarException.Kind.WORKING_DAY)
        assert services.calendar_exception_changed(exception=exc, by=staff) == 1
    report.refresh_from_db()
    assert report.deadline_at == almaty(2026, 3, 30, 23, 59, 59, 999999)


def test_critical_error_not_confirmed_is_not_eligible(customer, buy, staff):
    payment = buy(customer)
    grant(payment, 1)
    file_report(customer, staff=staff, confirm=False)
    result = evaluate(payment=payment, ground=CRITICAL, now=almaty(2026, 4, 20))
    assert not result.eligible
    assert "confirmed" in result.reasons[0]


def test_a_report_never_triaged_past_its_deadline_counts_unless_staff_find_it_not_critical(customer, buy, staff):
    """The Provider's silence does not count against the customer: a report left untriaged
    past its 5 business days supports ground (b) until staff look at it. (Found by the audit.)"""
    payment = buy(customer)
    grant(payment, 1)
    report = file_report(customer)  # nobody triages it
    assert not evaluate(payment=payment, ground=CRITICAL, now=almaty(2026, 3, 31, 23, 0)).eligible
    result = evaluate(payment=payment, ground=CRITICAL, now=almaty(2026, 4, 1, 9, 0))
    assert result.eligible and "never triaged" in result.reasons[0]
    with time_machine.travel(almaty(2026, 4, 1, 10, 0), tick=False):
        services.error_report_triage(report_id=report.pk, by=staff, critical=False, reason="Works as designed")
    assert not evaluate(payment=payment, ground=CRITICAL, now=almaty(2026, 4, 2)).eligible


def test_critical_error_outside_the_payments_term_does_not_count(customer, buy, staff):
    file_report(customer, at=almaty(2026, 3, 2, 12, 0), staff=staff)  # before the purchase
    payment = buy(customer)
    grant(payment, 1)
    assert not evaluate(payment=payment, ground=CRITICAL, now=almaty(2026, 4, 5)).eligible


def test_request_stores_the_evaluation_for_staff(customer, buy):
    payment = buy(customer)
    grant(payment, 50)
    request = services.refund_request_create(customer=customer, payment_id=payment.pk, ground=LATE,
                                             explanation="It took almost an hour")
    assert request.eligible is True
    assert request.evaluation["eligible"] is True
    assert any("Paid term" in line for line in request.evaluation["evidence"])
    other = RefundRequest.objects.get(pk=request.pk)
    services.refund_request_reject(request_id=other.pk, by=None, reason="test")
    request2 = services.refund_request_create(customer=customer, payment_id=payment.pk, ground=NO_ACCESS,
                                              explanation="No access")
    assert request2.eligible is False


def test_a_critical_error_carried_unresolved_into_the_next_term_counts_for_that_term(customer, buy, staff):
    from subscriptions.models import Term

    first = buy(customer)
    grant(first, 1)
    term1 = first.term
    # Filed the day before the term ends; its deadline runs out in the next term.
    report = file_report(customer, at=term1.ends_at - timedelta(days=1), staff=staff)
    second = buy_next_term(customer, first)
    assert Term.objects.get(payment=second).starts_at == term1.ends_at
    after_deadline = report.deadline_at + timedelta(hours=1)
    result = evaluate(payment=second, ground=CRITICAL, now=after_deadline)
    assert result.eligible and "still unresolved" in result.reasons[0]
    # Its deadline fell in the first term and it was fixed just after the second began: that
    # grounds a refund of the first term only.
    early = file_report(customer, at=term1.ends_at - timedelta(days=9), staff=staff,
                        resolve_at=term1.ends_at + timedelta(minutes=10))
    assert early.deadline_at < term1.ends_at
    assert evaluate(payment=first, ground=CRITICAL, now=after_deadline).eligible
    assert f"error #{early.pk} " not in " ".join(evaluate(payment=second, ground=CRITICAL, now=after_deadline).reasons)
    # Resolved in time: no ground for either term.
    with time_machine.travel(report.deadline_at - timedelta(hours=1), tick=False):
        services.error_report_resolve(report_id=report.pk, by=staff, note="Fixed")
    assert not evaluate(payment=second, ground=CRITICAL, now=after_deadline).eligible


def buy_next_term(customer, first):
    """The next term paid at the end of the first (as a renewal would), with its own payment."""
    from billing.gateways import ChargeResult, ChargeStatus
    from billing.services import payments_settle
    from subscriptions import renewals
    from subscriptions.models import RenewalAttempt, Subscription

    sub = Subscription.objects.get(customer=customer)
    Subscription.objects.filter(pk=sub.pk).update(next_charge_at=first.term.ends_at - timedelta(hours=1))
    with time_machine.travel(first.term.ends_at - timedelta(minutes=30), tick=False):
        [attempt_id] = renewals.renewals_claim()
        payment = RenewalAttempt.objects.get(pk=attempt_id).payment
        payments_settle(results=[(payment.public_id, ChargeResult(
            status=ChargeStatus.APPROVED, gateway_ref=f"next-{payment.pk}", amount_minor=payment.amount_minor,
            currency=payment.currency))], source="test")
    payment.refresh_from_db()
    return payment


def test_the_customer_is_told_once_when_a_confirmed_error_misses_its_deadline(
        customer, buy, staff, queued, mailoutbox, django_capture_on_commit_callbacks):
    from refunds.tasks import customer_email
    from soldee.models import Event

    buy(customer)
    report = file_report(customer, staff=staff)  # deadline 31 March (across Nauryz)
    unconfirmed = file_report(customer, at=REPORTED + timedelta(minutes=5))  # never triaged
    assert services.error_reports_deadline_sweep(now=almaty(2026, 3, 31, 23, 0)) == 0  # not yet
    queued.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert services.error_reports_deadline_sweep(now=almaty(2026, 4, 1, 0, 5)) == 2
        assert services.error_reports_deadline_sweep(now=almaty(2026, 4, 1, 0, 20)) == 0  # once
    emailed = [args for name, args in queued if name == "customer_email"]
    assert emailed == [("emails/error_report_deadline_missed", "error_report", report.pk)]  # the confirmed one
    alerts = [args for name, args in queued if name == "staff_alert"]
    assert len(alerts) == 2  # staff hear of both, in Almaty time and words
    bodies = " ".join(body for _subject, body in alerts)
    assert "(Almaty time) and is confirmed critical" in bodies and "and is awaiting triage" in bodies
    assert "UTC" not in bodies and "+05" not in bodies
    # The customer's history promises a refund only for the confirmed one.
    assert list(Event.objects.filter(verb="error_report.deadline_missed").values_list("subject_id", flat=True)) == [
        str(report.pk)]
    assert Event.objects.filter(verb="error_report.triage_overdue", subject_id=str(unconfirmed.pk)).count() == 1
    customer_email("emails/error_report_deadline_missed", "error_report", report.pk)
    assert "was not resolved within 5 business days" in mailoutbox[-1].body and "/refunds/" in mailoutbox[-1].body
    unconfirmed.refresh_from_db()
    assert unconfirmed.deadline_missed_at is None
    # Confirmed late by staff: the confirmation tells the customer it was missed, and the next
    # run does not tell them again (found by the explorer of the eleventh session).
    queued.clear()
    with time_machine.travel(almaty(2026, 4, 1, 9, 0), tick=False), django_capture_on_commit_callbacks(execute=True):
        services.error_report_triage(report_id=unconfirmed.pk, by=staff, critical=True, reason="Reproduced")
    with django_capture_on_commit_callbacks(execute=True):
        assert services.error_reports_deadline_sweep(now=almaty(2026, 4, 1, 9, 15)) == 0
    assert [args for name, args in queued if name == "customer_email"] == [
        ("emails/error_report_confirmed", "error_report", unconfirmed.pk)]
    assert Event.objects.filter(verb="error_report.deadline_missed", subject_id=str(unconfirmed.pk)).count() == 1


def test_the_resolution_e_mail_says_when_the_deadline_was_missed(customer, buy, staff, mailoutbox):
    from refunds.tasks import customer_email

    buy(customer)
    late = file_report(customer, staff=staff, resolve_at=almaty(2026, 4, 1, 9, 0))
    customer_email("emails/error_report_resolved", "error_report", late.pk)
    assert "This was after our deadline" in mailoutbox[-1].body
    in_time = file_report(customer, at=REPORTED + timedelta(hours=1), staff=staff, resolve_at=almaty(2026, 3, 27))
    customer_email("emails/error_report_resolved", "error_report", in_time.pk)
    assert "This was after our deadline" not in mailoutbox[-1].body


def test_late_for_a_term_paid_ahead_counts_from_its_start(customer, buy):
    """A renewal paid a day ahead: its deadline is its start + 30 minutes. Granted the
    next day, an hour after that start: late by the start, not by '1440 minutes'."""
    from subscriptions.models import AccessGrant

    payment = buy(customer)
    grant_row = payment.term.access_grant
    starts = payment.paid_at + timedelta(days=1)
    AccessGrant.objects.filter(pk=grant_row.pk).update(
        deadline_at=starts + timedelta(minutes=30), granted_at=starts + timedelta(minutes=90), status="granted")
    payment.refresh_from_db()
    result = evaluate(payment=payment, ground=LATE)
    assert result.eligible
    assert any("90 minutes after the payment (or after the start of a term paid ahead)" in r for r in result.reasons)
    AccessGrant.objects.filter(pk=grant_row.pk).update(granted_at=starts + timedelta(minutes=29))
    payment.refresh_from_db()
    assert not evaluate(payment=payment, ground=LATE).eligible  # granted a day after payment: on time
    AccessGrant.objects.filter(pk=grant_row.pk).update(granted_at=starts + timedelta(minutes=30, seconds=5))
    payment.refresh_from_db()
    assert any("31 minutes after" in r for r in evaluate(payment=payment, ground=LATE).reasons)


def test_the_evidence_line_of_a_report_writes_its_status_mid_sentence_in_lower_case(customer, buy, staff):
    """"Report #3 of …: Resolved; deadline …" read with a capital after the colon (in Russian
    «Обращение № 3 от …: Устранено; срок …»); the status is lower-cased where it is inserted."""
    from django.utils import translation

    payment = buy(customer)
    grant(payment, 1)
    report = file_report(customer, staff=staff, resolve_at=almaty(2026, 3, 27, 10, 0))
    for language in ("en", "ru", "kk"):
        with translation.override(language):
            status = report.get_status_display()
            result = evaluate(payment=payment, ground=CRITICAL, now=almaty(2026, 4, 5, 12, 0))
            line = next(line for line in result.evidence if status.lower() in line.lower())
            assert f": {status.lower()};" in line and status not in line, (language, line)
