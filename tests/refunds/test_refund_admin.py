"""Staff review in Django admin: filters, evidence and timeline, actions through services."""

from datetime import datetime

import pytest
import time_machine
from django.utils import timezone

from refunds import services
from refunds.models import CalendarException, ErrorReport, Refund, RefundRequest
from soldee.business_days import ALMATY
from soldee.models import Event

from .conftest import emails, grant

REQUESTS = "/admin/refunds/refundrequest/"
REPORTS = "/admin/refunds/errorreport/"


@pytest.fixture
def request_late(customer, buy):
    payment = buy(customer)
    grant(payment, 45)
    return services.refund_request_create(customer=customer, payment_id=payment.pk, ground="late",
                                          explanation="45 minutes without access")


@pytest.fixture
def admin_client(client, staff):
    client.force_login(staff)
    return client


@pytest.mark.parametrize("query", ["", "?status__exact=open", "?ground__exact=late", "?eligible__exact=1",
                                   "?eligible__exact=0"])
def test_request_list_filters(admin_client, request_late, query):
    response = admin_client.get(REQUESTS + query)
    assert response.status_code == 200
    listed = request_late.customer.email in response.content.decode()
    assert listed is (query != "?eligible__exact=0")


def test_request_detail_shows_evidence_and_timeline(admin_client, request_late):
    body = admin_client.get(f"{REQUESTS}{request_late.pk}/change/").content.decode()
    assert "Eligible by records" in body
    assert "45 minutes after the payment" in body
    assert "Paid term #1" in body
    for verb in ("payment.succeeded", "access.granted", "refund_request.created"):
        assert verb in body
    assert "Payment received" in body and "The customer requested a refund" in body  # in words, not codes
    assert "You requested a refund" not in body  # the customer's wording is for the customer
    timeline = body.split("field-timeline")[1]
    assert "{&#x27;" not in timeline and "+00:00" not in timeline  # no raw dicts, no UTC stamps
    assert "starts at: 10 Mar 2026, 10:00" in timeline  # the term's start, in Almaty time
    assert "amount_minor" not in timeline and "amount: ₸29,900" in timeline  # money, not tiyn


def test_the_timeline_details_read_as_words(admin_client, request_late):
    """Found by the browser explorer: "documents: ['2025-11-01', …]; on_time: True"."""
    body = admin_client.get(f"{REQUESTS}{request_late.pk}/change/").content.decode()
    timeline = body.split("field-timeline")[1].split("</ul>")[0]
    assert "on time: no" in timeline and "minutes after payment: 45" in timeline
    assert "eligible by records: yes" in timeline and "paid at: " in timeline
    assert "documents: " in timeline and "[&#x27;" not in timeline
    assert "True" not in timeline and "False" not in timeline and "on_time" not in timeline


def test_the_approve_summary_dates_and_the_decisions_read_as_the_admin_does(admin_client, request_late,
                                                                            django_capture_on_commit_callbacks):
    """Found by the browser explorer: "Paid ₸29,900 2026-11-30 19:27 +05", and "#1: approved, …"
    beside "#2: Rejected"."""
    from django.utils import formats

    paid_at = timezone.localtime(request_late.payment.paid_at)
    data = {"action": "approve", "_selected_action": [request_late.pk]}
    form = admin_client.post(REQUESTS, data).content.decode()
    assert formats.date_format(paid_at, "DATETIME_FORMAT") in form and paid_at.strftime("%Y-%m-%d") not in form
    with django_capture_on_commit_callbacks(execute=True):
        done = admin_client.post(REQUESTS, {**data, "apply": "1", "reason": ""}, follow=True)
    said = [str(m) for m in done.context["messages"]]
    assert said == [f"#{request_late.pk}: Approved, refund of ₸29,900 queued"]


def test_approve_partial_through_admin(admin_client, request_late, queued, django_capture_on_commit_callbacks):
    data = {"action": "approve", "_selected_action": [request_late.pk]}
    form = admin_client.post(REQUESTS, data)
    assert form.status_code == 200 and "Approve refund" in form.content.decode()
    assert not Refund.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(REQUESTS, {**data, "apply": "1", "amount": "10000.00", "reason": "Half"}, follow=True)
    refund = Refund.objects.get(request=request_late)
    assert refund.amount_minor == 1_000_000 and not refund.is_full
    assert ("refund_execute", (refund.pk,)) in queued
    assert "emails/refund_approved" in emails(queued)


def test_approve_more_than_paid_through_admin_is_refused(admin_client, request_late):
    response = admin_client.post(REQUESTS, {"action": "approve", "_selected_action": [request_late.pk],
                                            "apply": "1", "amount": "30000.00", "reason": "Sorry for the delay"},
                                 follow=True)
    assert "at most" in response.content.decode()
    assert not Refund.objects.exists()
    # The form again, with what staff typed (found by the staff explorer: back to the list, all lost).
    form = response.context["form"]
    assert form.data["reason"] == "Sorry for the delay" and form.non_field_errors()
    assert RefundRequest.objects.get(pk=request_late.pk).status == RefundRequest.Status.OPEN


def test_reject_needs_a_reason(admin_client, request_late, queued, django_capture_on_commit_callbacks):
    data = {"action": "reject", "_selected_action": [request_late.pk], "apply": "1"}
    admin_client.post(REQUESTS, {**data, "reason": ""})
    assert RefundRequest.objects.get(pk=request_late.pk).status == RefundRequest.Status.OPEN
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(REQUESTS, {**data, "reason": "Not late by our records"}, follow=True)
    request = RefundRequest.objects.get(pk=request_late.pk)
    assert request.status == RefundRequest.Status.REJECTED
    assert request.decision_reason == "Not late by our records"
    assert "emails/refund_rejected" in emails(queued)


def test_error_report_triage_and_resolution_through_admin(admin_client, customer, staff, queued,
                                                          django_capture_on_commit_callbacks):
    report = services.error_report_create(customer=customer, what_fails="Agent is down", since=timezone.now(),
                                          severity="blocker")
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(REPORTS, {"action": "confirm_critical", "_selected_action": [report.pk], "apply": "1",
                                    "reason": "Reproduced"}, follow=True)
        admin_client.post(REPORTS, {"action": "mark_resolved", "_selected_action": [report.pk], "apply": "1",
                                    "reason": "Router fixed"}, follow=True)
    report.refresh_from_db()
    assert report.status == ErrorReport.Status.RESOLVED and report.confirmed_at and report.resolved_by == staff
    assert emails(queued) == ["emails/error_report_confirmed", "emails/error_report_resolved"]
    verbs = list(Event.objects.filter(subject_type="refunds.errorreport", subject_id=str(report.pk))
                 .order_by("id").values_list("verb", flat=True))
    assert verbs == ["error_report.created", "error_report.confirmed", "error_report.resolved"]
    body = admin_client.get(f"{REPORTS}{report.pk}/change/").content.decode()
    assert "error_report.resolved" in body
    # A resolved report cannot be triaged again.
    with pytest.raises(services.RefundError):
        services.error_report_triage(report_id=report.pk, by=staff, critical=False, reason="x")


def test_not_critical_can_be_reconsidered_but_confirmed_cannot_be_downgraded(customer, staff):
    report = services.error_report_create(customer=customer, what_fails="x", since=timezone.now(),
                                          severity="minor")
    services.error_report_triage(report_id=report.pk, by=staff, critical=False, reason="Cosmetic")
    services.error_report_triage(report_id=report.pk, by=staff, critical=True, reason="It blocks exports")
    with pytest.raises(services.RefundError):
        services.error_report_triage(report_id=report.pk, by=staff, critical=False, reason="x")
    with pytest.raises(services.RefundError):
        services.error_report_triage(report_id=report.pk, by=staff, critical=True, reason=" ")


def test_calendar_exception_added_in_admin_moves_running_deadlines(admin_client, customer, queued,
                                                                   django_capture_on_commit_callbacks):
    with time_machine.travel(datetime(2026, 3, 19, 12, 0, tzinfo=ALMATY), tick=False):
        report = services.error_report_create(customer=customer, what_fails="x", since=timezone.now(),
                                              severity="blocker")
    assert timezone.localtime(report.deadline_at, ALMATY).date().isoformat() == "2026-03-31"
    with time_machine.travel(datetime(2026, 3, 20, 9, 0, tzinfo=ALMATY), tick=False), \
            django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post("/admin/refunds/calendarexception/add/",
                                     {"date": "2026-03-28", "kind": "working_day", "note": "Decree"},
                                     HTTP_ACCEPT_LANGUAGE="ru", follow=True)
    assert response.redirect_chain[0][1] == 302
    # In the staff member's language (found by the staff explorer: always English).
    assert "Перенесён 1 текущий срок по сообщению об ошибке." in response.content.decode()
    assert CalendarException.objects.filter(kind="working_day").count() == 1
    report.refresh_from_db()
    assert timezone.localtime(report.deadline_at, ALMATY).date().isoformat() == "2026-03-30"
    assert Event.objects.filter(verb="error_report.deadline_changed", subject_id=str(report.pk)).exists()
    # The customer was promised the old date by e-mail: they are told the new one.
    # (Found by the staff explorer.)
    assert "emails/error_report_deadline_changed" in emails(queued)
    from django.core import mail

    from soldee.emails import send_customer_email

    send_customer_email(user=customer, template="emails/error_report_deadline_changed", context={"report": report})
    assert "now end on 30 Mar 2026" in mail.outbox[-1].body, mail.outbox[-1].body


def test_moving_a_calendar_exception_to_an_earlier_date_moves_the_deadlines_over_both_dates(
    admin_client, customer, queued, django_capture_on_commit_callbacks
):
    """Found by the dates review: the recompute saw only the new date and skipped reports
    whose day 0 came after it, so a corrected date left deadlines counted on the old one."""
    with time_machine.travel(datetime(2026, 12, 1, 10, 0, tzinfo=ALMATY), tick=False), \
            django_capture_on_commit_callbacks(execute=True):  # the working Saturday, entered on the wrong one
        admin_client.post("/admin/refunds/calendarexception/add/",
                          {"date": "2026-12-12", "kind": "working_day", "note": "Decree"})
    exception = CalendarException.objects.get()
    with time_machine.travel(datetime(2026, 12, 8, 12, 0, tzinfo=ALMATY), tick=False):
        report = services.error_report_create(customer=customer, what_fails="x", since=timezone.now(),
                                              severity="blocker")
    assert timezone.localtime(report.deadline_at, ALMATY).date().isoformat() == "2026-12-14"  # Sat 12th counts
    with time_machine.travel(datetime(2026, 12, 9, 9, 0, tzinfo=ALMATY), tick=False), \
            django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(f"/admin/refunds/calendarexception/{exception.pk}/change/",
                                     {"date": "2026-12-05", "kind": "working_day", "note": "Decree (corrected)"})
    assert response.status_code == 302
    report.refresh_from_db()
    assert timezone.localtime(report.deadline_at, ALMATY).date().isoformat() == "2026-12-15"
    assert "emails/error_report_deadline_changed" in emails(queued)


def test_refund_and_report_detail_pages_render(admin_client, request_late, staff):
    refund = services.refund_request_approve(request_id=request_late.pk, by=staff)
    services.refund_execute(refund_id=refund.pk)
    body = admin_client.get(f"/admin/refunds/refund/{refund.pk}/change/").content.decode()
    assert "refund.succeeded" in body
    assert admin_client.get(f"{REQUESTS}{request_late.pk}/change/").status_code == 200
    assert admin_client.get("/admin/refunds/calendarexception/").status_code == 200


def test_a_kazakh_customers_request_reaches_staff_in_the_staff_language(admin_client, customer, buy, queued,
                                                                        django_capture_on_commit_callbacks):
    """The recommendation stored with the request and the staff alert are written in
    STAFF_RECORDS_LANGUAGE; the decision form says which language the customer reads."""
    from django.utils import translation

    customer.language = "kk"
    customer.save()
    payment = buy(customer)
    grant(payment, 45)
    with translation.override("kk"), django_capture_on_commit_callbacks(execute=True):  # the customer's request
        request = services.refund_request_create(customer=customer, payment_id=payment.pk, ground="late",
                                                 explanation="45 минут")
    reasons = " ".join(request.evaluation["reasons"] + request.evaluation["evidence"])
    assert "minutes" in reasons and not any("\u0400" <= ch <= "\u04ff" for ch in reasons)  # no Cyrillic
    [alert] = [args for name, args in queued if name == "staff_alert"]
    assert "Eligible by records: yes" in alert[1] and not any("\u0400" <= ch <= "\u04ff" for ch in alert[1])
    page = admin_client.post(REQUESTS, {"action": "reject", "_selected_action": [request.pk]})
    assert "The customer&#x27;s e-mails are in Kazakh." in page.content.decode()


def test_with_russian_staff_records_a_kazakh_customers_request_alerts_staff_in_russian(
        customer, buy, queued, settings, mailoutbox, django_capture_on_commit_callbacks):
    from django.utils import translation

    from soldee.tasks import staff_alert
    from tests.soldee.test_staff_alert_language import in_russian

    settings.STAFF_RECORDS_LANGUAGE = "ru"
    customer.language = "kk"
    customer.save()
    payment = buy(customer)
    grant(payment, 45)
    with translation.override("kk"), django_capture_on_commit_callbacks(execute=True):  # the customer's request
        request = services.refund_request_create(customer=customer, payment_id=payment.pk, ground="late",
                                                 explanation="45 минут")
    [alert] = [args for name, args in queued if name == "staff_alert"]
    staff_alert.apply(args=alert)  # the worker adds the prefix, in the staff language too
    [mail] = mailoutbox
    assert in_russian(mail.subject) and f"{request.pk} " in mail.subject and customer.email in mail.subject
    assert "Refund request" not in mail.subject and "Soldee staff" not in mail.subject
    assert in_russian(mail.body) and "Eligible by records" not in mail.body
    with translation.override("ru"):
        assert request.get_ground_display() in mail.body
    assert all(reason in mail.body for reason in request.evaluation["reasons"])  # the stored recommendation


def test_every_customer_text_has_a_third_person_staff_text():
    """The staff timelines fall back to the customer's wording: none of it may say 'you' or
    'we' (staff read it, not the customer)."""
    import re

    from soldee.event_texts import CUSTOMER_TEXTS, staff_text

    second_person = [verb for verb in CUSTOMER_TEXTS
                     if re.search(r"\b(you|your|we|our|us)\b", str(staff_text(verb)), re.I)]
    assert second_person == []


def test_the_refund_list_speaks_words_not_field_names(admin_client, request_late, staff):
    services.refund_request_approve(request_id=request_late.pk, by=staff)
    body = admin_client.get("/admin/refunds/refund/").content.decode()
    assert "Amount display" not in body and "Is full" not in body
    header = body.split('class="column-amount_display"')[1].split("</th>")[0]
    assert ">Amount<" in header
    assert "Full refund" in body


def test_a_report_confirmed_critical_after_its_deadline_is_not_promised_a_past_date(customer, staff, mailoutbox):
    """Found by the staff explorer: triaged late, the e-mail said "we aim to resolve it by"
    a date already past."""
    from soldee.emails import send_customer_email

    with time_machine.travel(datetime(2026, 3, 2, 12, 0, tzinfo=ALMATY), tick=False):
        report = services.error_report_create(customer=customer, what_fails="x", since=timezone.now(),
                                              severity="blocker")
    for day, says in ((3, "We aim to resolve it by"), (20, "It was not resolved within 5 business days")):
        with time_machine.travel(datetime(2026, 3, day, 12, 0, tzinfo=ALMATY), tick=False):
            report.confirmed_at, report.triage_reason = timezone.now(), "Confirmed"
            send_customer_email(user=customer, template="emails/error_report_confirmed", context={"report": report})
        assert says in mailoutbox[-1].body, mailoutbox[-1].body
    assert "you may ask for a refund" in mailoutbox[-1].body


def test_a_report_confirmed_after_its_deadline_is_told_once(customer, staff, queued,
                                                            django_capture_on_commit_callbacks):
    """Found by the explorer of today's changes: the confirmation said the deadline was
    missed, and the next sweep e-mailed the same news again."""
    with time_machine.travel(datetime(2026, 3, 2, 12, 0, tzinfo=ALMATY), tick=False):
        report = services.error_report_create(customer=customer, what_fails="x", since=timezone.now(),
                                              severity="blocker")
    with time_machine.travel(datetime(2026, 3, 20, 12, 0, tzinfo=ALMATY), tick=False), \
            django_capture_on_commit_callbacks(execute=True):
        services.error_report_triage(report_id=report.pk, by=staff, critical=True, reason="Blocks sales")
        services.error_reports_deadline_sweep()
    assert emails(queued).count("emails/error_report_confirmed") == 1
    assert "emails/error_report_deadline_missed" not in emails(queued)
    report.refresh_from_db()
    assert report.deadline_missed_at is not None and report.missed_deadline
    assert Event.objects.filter(verb="error_report.deadline_missed", subject_id=str(report.pk)).count() == 1


@pytest.mark.parametrize("action, title", [("reject", "Reject refund request"), ("approve", "Approve refund")])
def test_action_form_shows_its_title_once(admin_client, request_late, action, title):
    """The admin's base template already heads the page with the title (content_title): the
    form's own <h1> showed it twice, one under the other."""
    page = admin_client.post(REQUESTS, {"action": action, "_selected_action": [request_late.pk]}).content.decode()
    assert page.count(f"<h1>{title}</h1>") == 1
