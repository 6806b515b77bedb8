"""A renewal is paid a day before the term in use ends (or an invoice well before). Refunding
that payment in full undoes the term it bought, not the one in use: the customer keeps the
access they paid for to its end, and the subscription ends then (clause 7, clause 6.3)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from billing.models import Payment, SandboxTransaction
from refunds import services
from refunds.models import RefundRequest
from soldee.models import Event
from subscriptions import renewals
from subscriptions.models import AccessGrant, Subscription, Term
from subscriptions.services import CheckoutRefused, subscription_set_auto_renew

from .conftest import emails

pytestmark = pytest.mark.django_db


def _renew_ahead(customer, buy):
    first = buy(customer, at=timezone.now() - timedelta(days=29, hours=22))
    SandboxTransaction.objects.filter(invoice_id=str(first.public_id)).update(token=f"tok-{first.pk}",
                                                                               card_last4="4242")
    assert renewals.renewals_run() == {"succeeded": 1}  # charged a day ahead
    sub = Subscription.objects.get(customer=customer)
    in_use = Term.objects.get(subscription=sub, number=1)
    AccessGrant.objects.filter(term=in_use).update(status=AccessGrant.Status.GRANTED, granted_at=timezone.now())
    return sub, in_use, Term.objects.get(subscription=sub, number=2)


@pytest.fixture
def renewed_ahead(customer, buy):
    """A subscription whose term in use ends in two hours and whose next term is paid."""
    return _renew_ahead(customer, buy)


def _refund_in_full(customer, payment, staff, django_capture_on_commit_callbacks):
    request = services.refund_request_create(customer=customer, payment_id=payment.pk,
                                             ground=RefundRequest.Ground.LATE, explanation="Charged by mistake")
    with django_capture_on_commit_callbacks(execute=True):
        refund = services.refund_request_approve(request_id=request.pk, by=staff)
        return services.refund_execute(refund_id=refund.pk)


def test_refunding_the_next_term_keeps_the_term_in_use_and_its_access(
        client, renewed_ahead, staff, queued, time_machine, django_capture_on_commit_callbacks):
    sub, in_use, ahead = renewed_ahead
    customer = sub.customer
    _refund_in_full(customer, ahead.payment, staff, django_capture_on_commit_callbacks)
    assert Payment.objects.get(pk=ahead.payment_id).refunded_minor == ahead.payment.amount_minor

    sub.refresh_from_db()
    assert sub.status == Subscription.Status.ACTIVE and not sub.auto_renew and sub.next_charge_at is None
    assert (sub.current_period_start, sub.current_period_end) == (in_use.starts_at, in_use.ends_at)
    assert AccessGrant.objects.get(term=in_use).status == AccessGrant.Status.GRANTED  # still paid, still open
    assert AccessGrant.objects.get(term=ahead).status == AccessGrant.Status.REVOKED
    assert Event.objects.filter(verb="subscription.next_term_refunded", subject_id=str(sub.pk)).exists()
    assert "emails/refund_completed" in emails(queued)

    client.force_login(customer)
    page = client.get("/account/").content.decode()
    assert "the next term was refunded, so the subscription ends on" in page
    assert 'id="next-term"' not in page and 'id="renewal-on"' not in page
    with pytest.raises(CheckoutRefused, match="was refunded"):
        subscription_set_auto_renew(subscription_id=sub.pk, on=True, by=customer)

    time_machine.move_to(in_use.ends_at + timedelta(seconds=1), tick=False)
    assert renewals.renewals_run() == {}  # nothing is charged again
    assert renewals.subscriptions_expire() == 1
    sub.refresh_from_db()
    assert sub.status == Subscription.Status.ENDED and sub.end_reason == Subscription.EndReason.REFUNDED


def test_the_refund_e_mail_says_how_long_access_lasts(renewed_ahead, staff, mailoutbox,
                                                      django_capture_on_commit_callbacks):
    from refunds.tasks import customer_email

    sub, in_use, ahead = renewed_ahead
    refund = _refund_in_full(sub.customer, ahead.payment, staff, django_capture_on_commit_callbacks)
    customer_email("emails/refund_completed", "refund", refund.pk)
    assert "Your current paid term and its access run until" in mailoutbox[-1].body


def test_refunding_the_term_in_use_still_ends_the_subscription_now(
        renewed_ahead, staff, queued, django_capture_on_commit_callbacks):
    sub, in_use, ahead = renewed_ahead
    # The next term is refunded first, then the one in use: nothing paid is left.
    _refund_in_full(sub.customer, ahead.payment, staff, django_capture_on_commit_callbacks)
    _refund_in_full(sub.customer, in_use.payment, staff, django_capture_on_commit_callbacks)
    sub.refresh_from_db()
    assert sub.status == Subscription.Status.ENDED and sub.end_reason == Subscription.EndReason.REFUNDED
    assert AccessGrant.objects.get(term=in_use).status == AccessGrant.Status.REVOKED


def test_the_approve_page_says_what_a_full_refund_does(client, renewed_ahead, staff, settings):
    settings.SOLDEE_STAFF_MFA_REQUIRED = False  # the admin's second factor is tested elsewhere
    sub, in_use, ahead = renewed_ahead
    ahead_request = services.refund_request_create(customer=sub.customer, payment_id=ahead.payment_id,
                                                   ground=RefundRequest.Ground.LATE, explanation="Mistake")
    client.force_login(staff)
    page = client.post("/admin/refunds/refundrequest/", {"action": "approve",
                                                         "_selected_action": [ahead_request.pk]})
    text = page.content.decode()
    assert "left to refund" in text and "Not eligible by records" in text
    assert "The term it paid has not started: when the money is paid back, that term is cancelled" in text
    from django.utils import formats, timezone

    # The customer's e-mail carries the same words: a date as people write it, not "+05".
    assert formats.date_format(timezone.localtime(in_use.ends_at), "DATETIME_FORMAT") + " (Almaty time)" in text
    assert "+05" not in text.split("The term it paid has not started")[1][:200]
    assert RefundRequest.objects.get(pk=ahead_request.pk).status == RefundRequest.Status.OPEN  # asked only


def test_the_effect_of_refunding_the_term_in_use(renewed_ahead):
    from refunds.selectors import full_refund_effect

    _sub, in_use, ahead = renewed_ahead
    assert full_refund_effect(in_use.payment) == "A later term is paid: the subscription goes on."
    Payment.objects.filter(pk=ahead.payment_id).update(refunded_minor=ahead.payment.amount_minor)
    assert full_refund_effect(Payment.objects.get(pk=in_use.payment_id)) == (
        "When the money is paid back, the subscription ends and access to the AI agent is closed; until then it "
        "goes on, without automatic renewal.")


def test_the_agent_platform_hears_that_access_ends_with_the_term_in_use(
        renewed_ahead, staff, settings, django_capture_on_commit_callbacks):
    import json

    import httpx
    import respx

    from subscriptions.tasks import access_revoke_notify

    settings.AGENT_PLATFORM_WEBHOOK_URL = "https://agents.example/hook"
    settings.AGENT_PLATFORM_WEBHOOK_SECRET = "s"
    sub, in_use, ahead = renewed_ahead
    _refund_in_full(sub.customer, ahead.payment, staff, django_capture_on_commit_callbacks)
    with respx.mock:
        route = respx.post("https://agents.example/hook").mock(return_value=httpx.Response(200, json={}))
        access_revoke_notify(AccessGrant.objects.get(term=ahead).pk)
    body = json.loads(route.calls.last.request.content)
    assert body["action"] == "revoke" and body["until"] == in_use.ends_at.isoformat()


def test_refunding_the_term_in_use_first_and_then_the_next_one_ends_the_subscription_now(
        renewed_ahead, staff, queued, django_capture_on_commit_callbacks):
    from subscriptions.services import entitlement

    sub, in_use, ahead = renewed_ahead
    _refund_in_full(sub.customer, in_use.payment, staff, django_capture_on_commit_callbacks)
    sub.refresh_from_db()
    assert sub.status == Subscription.Status.ACTIVE  # a later term is paid: it goes on
    _refund_in_full(sub.customer, ahead.payment, staff, django_capture_on_commit_callbacks)
    sub.refresh_from_db()
    assert sub.status == Subscription.Status.ENDED and sub.end_reason == Subscription.EndReason.REFUNDED
    assert entitlement(sub.customer)["entitled"] is False  # nothing paid is left: no access


def test_a_legal_entity_whose_next_term_was_refunded_gets_no_invoice_until_it_ends(
        company, buy, staff, queued, django_capture_on_commit_callbacks):
    from billing.documents import InvoiceRefused, invoice_issue, invoice_plans_for

    sub, _in_use, ahead = _renew_ahead(company, buy)
    assert invoice_plans_for(company) == []  # its next term is paid: nothing more to invoice
    _refund_in_full(company, ahead.payment, staff, django_capture_on_commit_callbacks)
    assert invoice_plans_for(company) == []
    with pytest.raises(InvoiceRefused, match="ends with its current term"):
        invoice_issue(customer=company, plan=sub.plan)


def test_the_approval_e_mail_says_what_the_full_refund_does(renewed_ahead, staff, mailoutbox):
    from refunds.tasks import customer_email

    sub, in_use, ahead = renewed_ahead
    request = services.refund_request_create(customer=sub.customer, payment_id=in_use.payment_id,
                                             ground=RefundRequest.Ground.LATE, explanation="Late")
    services.refund_request_approve(request_id=request.pk, by=staff)
    customer_email("emails/refund_approved", "refund_request", request.pk)
    body = mailoutbox[-1].body
    assert "This is a full refund. A later term is paid: the subscription goes on." in body
    assert "the subscription ends and access to the AI agent is closed" not in body


def test_staff_turning_renewal_off_are_told_the_next_term_is_paid_and_how_its_money_comes_back(
        client, renewed_ahead, staff, settings):
    """What the customer's own page offers them here, staff now say (left alone last session)."""
    sub, _in_use, ahead = renewed_ahead
    settings.SOLDEE_STAFF_MFA_REQUIRED = False
    client.force_login(staff)
    page = client.post("/admin/subscriptions/subscription/", {
        "action": "renewal_off", "_selected_action": [sub.pk]}).content.decode()
    assert "The next term is paid already" in page and str(ahead.payment.public_id) in page
    assert "e-mail and their personal account give them the link" in page  # what they can tell the customer
    # What it says works (the explorer found an earlier wording promising an admin path that
    # does not exist): the customer's own request on that payment, ground "access not granted".
    client.post("/admin/subscriptions/subscription/", {
        "action": "renewal_off", "_selected_action": [sub.pk], "confirmed": "yes",
        "asked_by": "phone", "reason": "Asked by phone"})
    request = services.refund_request_create(customer=sub.customer, payment_id=ahead.payment_id,
                                             ground=RefundRequest.Ground.NO_ACCESS, explanation="Not started")
    assert request.status == RefundRequest.Status.OPEN
