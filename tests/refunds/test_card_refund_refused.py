"""A card refund the gateway refuses for good (card closed, payment too old) is paid back
by bank transfer instead: staff switch it in the admin, the customer is asked for a bank
account, accounting pays and records the transfer. Money still moves once: a refund the
gateway did return (only the books refused it) is never switched."""

import re

import pytest

from billing.gateways import RefundResult
from billing.gateways.sandbox import SandboxGateway
from billing.models import PaymentDocument, SandboxTransaction
from refunds import services
from refunds.models import Refund, RefundRequest
from soldee.emails import send_customer_email
from soldee.models import Event
from subscriptions.models import Subscription

from .conftest import emails, grant

REFUNDS = "/admin/refunds/refund/"


@pytest.fixture
def refused(customer, buy, staff, monkeypatch, django_capture_on_commit_callbacks):
    payment = buy(customer)
    grant(payment, 60)
    request = services.refund_request_create(customer=customer, payment_id=payment.pk,
                                             ground=RefundRequest.Ground.LATE, explanation="An hour late")
    refund = services.refund_request_approve(request_id=request.pk, by=staff)
    original = SandboxGateway.refund
    monkeypatch.setattr(SandboxGateway, "refund",
                        lambda self, **kw: RefundResult(approved=False, failure_message="card closed"))
    with django_capture_on_commit_callbacks(execute=True):
        refund = services.refund_execute(refund_id=refund.pk)
    monkeypatch.setattr(SandboxGateway, "refund", original)
    assert refund.status == Refund.Status.FAILED
    return refund


def test_staff_switch_a_refused_card_refund_to_a_bank_transfer_and_record_it(
        client, customer, staff, refused, queued, mailoutbox, django_capture_on_commit_callbacks):
    client.force_login(staff)
    data = {"action": "pay_by_bank_transfer", "_selected_action": [refused.pk]}
    form = client.post(REFUNDS, data).content.decode()
    assert "Why the money cannot go back to the card" in form and "asked by e-mail for a bank account" in form
    client.post(REFUNDS, {**data, "apply": "1", "reason": "  "}, follow=True)  # a reason is required
    assert Refund.objects.get(pk=refused.pk).status == Refund.Status.FAILED
    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(REFUNDS, {**data, "apply": "1", "reason": "Gateway: card closed"}, follow=True)
    assert "to be paid back by bank transfer" in done.content.decode()
    refund = Refund.objects.get(pk=refused.pk)
    assert refund.status == Refund.Status.AWAITING_TRANSFER and refund.paid_by_transfer
    switched = Event.objects.get(verb="refund.awaiting_transfer", subject_id=str(refund.pk))
    assert switched.actor == staff and switched.data["card_refused"] is True
    assert switched.data["reason"] == "Gateway: card closed" and "card closed" in switched.data["gateway_error"]
    assert "emails/refund_by_transfer" in emails(queued)
    alerts = [body for name, (subject, body) in ((n, a) for n, a in queued if n == "staff_alert")
              if f"Refund #{refund.pk} (request #{refund.request_id}): pay it back by bank transfer" in subject]
    assert alerts and "refused to return" in alerts[0] and "record the transfer" in alerts[0]
    # The e-mail asks for the account, in the customer's language.
    send_customer_email(user=customer, template="emails/refund_by_transfer", context={"refund": refund})
    body = mailoutbox[-1].body
    assert "refused the refund" in body and "IBAN" in body and "₸29,900" in body
    # The account says why and what to send.
    page = client_as(customer).get(f"/refunds/requests/{refund.request_id}/").content.decode()
    assert 'id="bank-details-asked"' in page and "IBAN" in page
    assert "paid back by bank transfer to the account you give us" in client_as(customer).get(
        f"/refunds/requests/{refund.request_id}/").content.decode()
    # Nothing goes to the gateway any more: the task, the sweeper and a staff retry leave it.
    assert services.refund_execute(refund_id=refund.pk, by=staff, retry_failed=True).status == \
        Refund.Status.AWAITING_TRANSFER
    assert not SandboxTransaction.objects.filter(kind="refund", status="approved").exists()
    # Accounting pays and records it: the same record as any refund, once.
    with django_capture_on_commit_callbacks(execute=True):
        refund = services.refund_record_bank_transfer(refund_id=refund.pk, reference="PP 42", by=staff)
    assert refund.status == Refund.Status.SUCCEEDED and refund.gateway_ref == "bank-transfer:PP 42"
    refund.payment.refresh_from_db()
    assert refund.payment.refunded_minor == refund.amount_minor
    assert PaymentDocument.objects.filter(doc_type=PaymentDocument.DocType.REFUND_NOTE,
                                          payment=refund.payment).count() == 1
    assert Subscription.objects.get(customer=customer).status == Subscription.Status.ENDED
    send_customer_email(user=customer, template="emails/refund_completed", context={"refund": refund})
    # The date is when the money was sent, not when the account was given (found by a newcomer:
    # "…to the account you gave us on 30 Nov 2026, 22:02").
    assert re.search(r"^On [^\n,]+, \d\d:\d\d \(Almaty time\), ₸[\d,.]+ was paid back by bank transfer to the "
                     r"account you gave us\.$", mailoutbox[-1].body, re.M), mailoutbox[-1].body
    assert "returned to your card" not in mailoutbox[-1].body


def client_as(user):
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client


def test_only_a_refund_the_gateway_refused_can_be_switched(other_customer, buy, staff, refused):
    with pytest.raises(services.RefundError, match="Give the reason"):
        services.refund_pay_by_bank_transfer(refund_id=refused.pk, by=staff, reason=" ")
    # A pending refund (not refused) is not switched.
    other = buy(other_customer)
    request = services.refund_request_create(customer=other_customer, payment_id=other.pk,
                                             ground=RefundRequest.Ground.NO_ACCESS, explanation="No access")
    pending = services.refund_request_approve(request_id=request.pk, by=staff)
    with pytest.raises(services.RefundError, match="was not refused by the payment gateway"):
        services.refund_pay_by_bank_transfer(refund_id=pending.pk, by=staff, reason="card closed")
    assert Refund.objects.get(pk=pending.pk).status == Refund.Status.PENDING
    # Switched once; a second switch (another tab) is refused.
    services.refund_pay_by_bank_transfer(refund_id=refused.pk, by=staff, reason="card closed")
    with pytest.raises(services.RefundError, match="was not refused"):
        services.refund_pay_by_bank_transfer(refund_id=refused.pk, by=staff, reason="card closed")


def test_a_refund_the_gateway_returned_but_the_books_refused_is_never_paid_again(
        customer, buy, staff, monkeypatch, django_capture_on_commit_callbacks):
    from billing import services as billing

    payment = buy(customer)
    grant(payment, 60)
    request = services.refund_request_create(customer=customer, payment_id=payment.pk,
                                             ground=RefundRequest.Ground.LATE, explanation="Late")
    refund = services.refund_request_approve(request_id=request.pk, by=staff)

    def refuse(**kwargs):
        raise billing.RefundRefused("the books refuse")

    monkeypatch.setattr(billing, "payment_refund_record", refuse)
    refund = services.refund_execute(refund_id=refund.pk)
    assert refund.status == Refund.Status.FAILED and refund.gateway_ref  # the gateway's reference is kept
    with pytest.raises(services.RefundError, match="did return refund"):
        services.refund_pay_by_bank_transfer(refund_id=refund.pk, by=staff, reason="card closed")
    assert Refund.objects.get(pk=refund.pk).status == Refund.Status.FAILED


def test_a_refused_refund_whose_money_went_back_another_way_is_not_switched(customer, staff, refused):
    from billing import services as billing

    billing.payment_refund_record(payment_id=refused.payment_id, amount_minor=refused.amount_minor,
                                  gateway_ref="manual-1", refund_key="elsewhere", by=staff)
    with pytest.raises(services.RefundError, match="Not sent again"):
        services.refund_pay_by_bank_transfer(refund_id=refused.pk, by=staff, reason="card closed")


def test_a_refund_whose_answer_was_lost_is_switched_only_after_staff_checked_the_gateway(
        customer, buy, staff, monkeypatch, time_machine):
    """The first try reached the gateway, which refunded; the answer was lost; the retry an
    hour later is not sent (beyond the gateway's idempotency window) and the refund fails.
    The money may be back with the customer: no bank transfer until staff checked."""
    from datetime import timedelta

    from django.utils import timezone

    from billing.gateways import GatewayError

    payment = buy(customer)
    grant(payment, 60)
    request = services.refund_request_create(customer=customer, payment_id=payment.pk,
                                             ground=RefundRequest.Ground.LATE, explanation="Late")
    refund = services.refund_request_approve(request_id=request.pk, by=staff)
    original = SandboxGateway.refund

    def refunded_then_lost(self, **kwargs):
        original(self, **kwargs)
        raise GatewayError("read timeout")

    monkeypatch.setattr(SandboxGateway, "idempotency_window_seconds", 3600)
    monkeypatch.setattr(SandboxGateway, "refund", refunded_then_lost)
    with pytest.raises(GatewayError):
        services.refund_execute(refund_id=refund.pk)
    assert Refund.objects.get(pk=refund.pk).answer_lost
    monkeypatch.setattr(SandboxGateway, "refund", original)
    time_machine.move_to(timezone.now() + timedelta(minutes=58), tick=False)
    refund = services.refund_execute(refund_id=refund.pk)
    assert refund.status == Refund.Status.FAILED and "idempotency window" in refund.last_error
    assert refund.answer_lost and not refund.gateway_ref
    with pytest.raises(services.RefundError, match="answer to an earlier try of refund"):
        services.refund_pay_by_bank_transfer(refund_id=refund.pk, by=staff, reason="card closed")
    assert Refund.objects.get(pk=refund.pk).status == Refund.Status.FAILED
    # Staff looked in the back office and found no refund (here: say the sandbox lost it).
    refund = services.refund_pay_by_bank_transfer(refund_id=refund.pk, by=staff, reason="Not in the console",
                                                  checked_at_gateway=True)
    assert refund.status == Refund.Status.AWAITING_TRANSFER
    assert Event.objects.filter(verb="refund.awaiting_transfer", subject_id=str(refund.pk)).latest("pk") \
        .data["checked_at_gateway"] is True


def test_a_gateway_no_after_a_lost_answer_settles_it(customer, buy, staff, monkeypatch):
    """A try whose answer was lost, then the gateway's definite no to the same key (it would
    have answered with the refund had it been made): the switch needs no back-office check."""
    from billing.gateways import GatewayError

    payment = buy(customer)
    grant(payment, 60)
    request = services.refund_request_create(customer=customer, payment_id=payment.pk,
                                             ground=RefundRequest.Ground.LATE, explanation="Late")
    refund = services.refund_request_approve(request_id=request.pk, by=staff)
    monkeypatch.setattr(SandboxGateway, "refund", lambda self, **kw: (_ for _ in ()).throw(GatewayError("timeout")))
    with pytest.raises(GatewayError):
        services.refund_execute(refund_id=refund.pk)
    monkeypatch.setattr(SandboxGateway, "refund",
                        lambda self, **kw: RefundResult(approved=False, failure_message="card closed"))
    refund = services.refund_execute(refund_id=refund.pk)
    assert refund.status == Refund.Status.FAILED and not refund.answer_lost
    assert services.refund_pay_by_bank_transfer(refund_id=refund.pk, by=staff, reason="card closed").status == \
        Refund.Status.AWAITING_TRANSFER


def test_refunds_that_failed_before_the_change_are_marked_so_they_are_not_paid_twice(
        customer, other_customer, buy, staff, refused):
    """Migration refunds 0007: a refund whose answer was lost, or that the gateway returned
    while the books refused it, failed before `answer_lost` and the kept reference existed.
    (Found by the review.)"""
    import importlib

    from django.apps import apps

    Refund.objects.filter(pk=refused.pk).update(
        last_error="outcome unknown beyond the gateway's idempotency window: check the refund", answer_lost=False)
    payment = buy(other_customer)
    request = services.refund_request_create(customer=other_customer, payment_id=payment.pk,
                                             ground=RefundRequest.Ground.NO_ACCESS, explanation="No access")
    returned = services.refund_request_approve(request_id=request.pk, by=staff)
    Refund.objects.filter(pk=returned.pk).update(
        status="failed", gateway_ref="", last_error="gateway refunded (tx-77) but recording failed: books")
    importlib.import_module("refunds.migrations.0007_refund_answer_lost_before").mark(apps, None)
    assert Refund.objects.get(pk=refused.pk).answer_lost is True
    assert Refund.objects.get(pk=returned.pk).gateway_ref == "tx-77"
    with pytest.raises(services.RefundError, match="answer to an earlier try"):
        services.refund_pay_by_bank_transfer(refund_id=refused.pk, by=staff, reason="card closed")
    with pytest.raises(services.RefundError, match="did return refund"):
        services.refund_pay_by_bank_transfer(refund_id=returned.pk, by=staff, reason="card closed")


def test_while_a_full_refund_waits_for_its_bank_transfer_no_renewal_charges_the_customer(customer, staff, refused):
    """The refund ends the subscription when the transfer is recorded, perhaps days later:
    renewal was turned off at the approval, so the card is not charged meanwhile. (Found by
    the explorer: the account still showed renewal on and a charge date.)"""
    from subscriptions.models import Subscription

    sub = Subscription.objects.get(customer=customer)
    assert refused.is_full and not sub.auto_renew and sub.is_live
    event = Event.objects.filter(verb="subscription.renewal_cancelled", subject_id=str(sub.pk)).get()
    assert event.actor == staff and event.data["reason"] == "full refund approved"
    services.refund_pay_by_bank_transfer(refund_id=refused.pk, by=staff, reason="card closed")
    sub = Subscription.objects.get(customer=customer)
    assert sub.auto_renew is False and sub.next_charge_at is None and sub.is_live
    assert Event.objects.filter(verb="subscription.renewal_cancelled", subject_id=str(sub.pk)).count() == 1


def test_the_sandbox_has_a_card_whose_refunds_are_refused_so_staff_can_rehearse(
        customer, plan, documents, staff, django_capture_on_commit_callbacks):
    """Found by the staff explorer: the sandbox approved every refund, so the refused-refund
    path (paid back by bank transfer) could not be tried on the demo."""
    from billing.gateways import sandbox
    from tests.billing.helpers import buy as buy_on_sandbox

    payment = buy_on_sandbox(customer, plan, documents, card=sandbox.CARD_REFUND_REFUSED)
    assert sandbox.CARD_REFUND_REFUSED in sandbox.TEST_CARDS  # listed on the sandbox page
    request = services.refund_request_create(customer=customer, payment_id=payment.pk,
                                             ground=RefundRequest.Ground.NO_ACCESS, explanation="No access")
    refund = services.refund_request_approve(request_id=request.pk, by=staff)
    with django_capture_on_commit_callbacks(execute=True):
        refund = services.refund_execute(refund_id=refund.pk)
    assert refund.status == Refund.Status.FAILED and "card account is closed" in refund.last_error
    switched = services.refund_pay_by_bank_transfer(refund_id=refund.pk, by=staff, reason="Card closed")
    assert switched.status == Refund.Status.AWAITING_TRANSFER


def test_a_full_card_refund_ends_the_subscription_when_the_money_is_back_and_no_renewal_charges_meanwhile(
        customer, buy, staff, monkeypatch, mailoutbox, django_capture_on_commit_callbacks):
    """Found by the newcomer explorer: the "refund approved" e-mail said "The subscription
    ends now and access to the AI agent is closed"; the gateway then refused the refund (a
    closed card) and the account still showed the subscription with access and the next
    renewal scheduled. The subscription ends when the money is back (the gateway's answer,
    or staff recording the bank transfer days later): the e-mail says so, and automatic
    renewal is off from the approval, so the customer being refunded is not charged again."""
    from datetime import timedelta

    from billing.models import Payment
    from refunds.selectors import full_refund_effect
    from subscriptions.renewals import renewals_run

    payment = buy(customer)
    grant(payment, 60)
    subscription = Subscription.objects.get(customer=customer)
    assert subscription.auto_renew and subscription.next_charge_at
    request = services.refund_request_create(customer=customer, payment_id=payment.pk,
                                             ground=RefundRequest.Ground.LATE, explanation="An hour late")
    refund = services.refund_request_approve(request_id=request.pk, by=staff)
    subscription.refresh_from_db()
    assert subscription.status == Subscription.Status.ACTIVE  # the money is not back yet
    assert not subscription.auto_renew and subscription.next_charge_at is None
    assert Event.objects.filter(verb="subscription.renewal_cancelled", subject_id=str(subscription.pk),
                                data__reason="full refund approved").exists()

    send_customer_email(user=customer, template="emails/refund_approved", context={
        "request": RefundRequest.objects.get(pk=request.pk),
        "effect": lambda: full_refund_effect(payment)})
    body = mailoutbox[-1].body
    assert ("When the money is paid back, the subscription ends and access to the AI agent is closed; until then "
            "it goes on, without automatic renewal.") in body  # renewal is off from the approval: said so
    assert "ends now" not in body

    monkeypatch.setattr(SandboxGateway, "refund",
                        lambda self, **kw: RefundResult(approved=False, failure_message="card closed"))
    with django_capture_on_commit_callbacks(execute=True):
        assert services.refund_execute(refund_id=refund.pk).status == Refund.Status.FAILED
    # The term's end comes while staff arrange the bank transfer: nothing is charged.
    renewals_run(now=subscription.current_period_end - timedelta(hours=1))
    assert Payment.objects.filter(customer=customer).count() == 1
    subscription.refresh_from_db()
    assert subscription.status == Subscription.Status.ACTIVE and not subscription.auto_renew
    # Once the money is back the subscription ends.
    services.refund_pay_by_bank_transfer(refund_id=refund.pk, by=staff, reason="card closed")
    with django_capture_on_commit_callbacks(execute=True):
        services.refund_record_bank_transfer(refund_id=refund.pk, reference="PP 7", by=staff)
    assert Subscription.objects.get(pk=subscription.pk).status == Subscription.Status.ENDED
    assert full_refund_effect(Payment.objects.get(pk=payment.pk)) == (
        "The subscription has ended and access to the AI agent is closed.")


def test_staff_texts_give_a_refund_its_request_s_number_which_the_customer_knows(
        customer, buy, staff, staff_admin, queued, monkeypatch, django_capture_on_commit_callbacks):
    """Found by the staff explorer: the customer's e-mails say "refund #2" (the request's
    number), the staff alert and the admin "Refund #1" (the refund's own): staff texts now
    give both."""
    payment = buy(customer)
    grant(payment, 60)
    first = services.refund_request_create(customer=customer, payment_id=payment.pk,
                                           ground=RefundRequest.Ground.LATE, explanation="An hour late")
    services.refund_request_reject(request_id=first.pk, by=staff, reason="Asked twice")
    request = services.refund_request_create(customer=customer, payment_id=payment.pk,
                                             ground=RefundRequest.Ground.LATE, explanation="An hour late")
    refund = services.refund_request_approve(request_id=request.pk, by=staff)
    assert refund.pk != request.pk
    monkeypatch.setattr(SandboxGateway, "refund",
                        lambda self, **kw: RefundResult(approved=False, failure_message="card closed"))
    with django_capture_on_commit_callbacks(execute=True):
        services.refund_execute(refund_id=refund.pk)
    subjects = [args[0] for name, args in queued if name == "staff_alert"]
    assert f"Refund #{refund.pk} (request #{request.pk}) failed" in subjects
    assert str(Refund.objects.get(pk=refund.pk)).startswith(f"#{refund.pk} (request #{request.pk}) ")
    listed = staff_admin.get(REFUNDS).content.decode()
    assert f'<td class="field-request_number">#{request.pk}</td>' in listed


def test_the_bank_transfer_alert_writes_money_in_the_staff_records_language_whoever_acted(
        refused, staff, settings, queued, django_capture_on_commit_callbacks):
    """Found by the staff explorer: the English alert read "132,92 €" when a Russian-speaking
    staff member switched the refund, "€132.92" when the worker wrote it."""
    from django.utils import translation

    from soldee.money import format_money

    settings.STAFF_RECORDS_LANGUAGE = "en"
    with translation.override("ru"), django_capture_on_commit_callbacks(execute=True):
        services.refund_pay_by_bank_transfer(refund_id=refused.pk, by=staff, reason="Gateway: card closed")
    [body] = [args[1] for name, args in queued if name == "staff_alert" and "bank transfer" in args[0]]
    english, russian = (format_money(refused.amount_minor, refused.currency, language) for language in ("en", "ru"))
    assert english != russian
    assert f"refused to return {english} of payment" in body and russian not in body


def test_while_a_full_refund_is_on_its_way_renewal_cannot_be_turned_back_on(customer, staff, refused):
    """Renewal went off at the approval of the full refund that ends the subscription when
    the money is back. Turned back on meanwhile (the account's button), a renewal would
    charge the customer being refunded and pay a later term, so the refund of the term in
    use no longer ends it: the refunded term kept its access."""
    from datetime import timedelta

    import time_machine

    from subscriptions.services import CheckoutRefused, subscription_set_auto_renew

    sub = Subscription.objects.get(customer=customer)
    assert not sub.auto_renew and sub.is_live
    with time_machine.travel(sub.current_period_end - timedelta(days=3), tick=False):
        with pytest.raises(CheckoutRefused, match="refund"):
            subscription_set_auto_renew(subscription_id=sub.pk, on=True, by=customer)
        with pytest.raises(CheckoutRefused, match="refund"):
            subscription_set_auto_renew(subscription_id=sub.pk, on=True, by=staff, reason="asked by phone")
        services.refund_pay_by_bank_transfer(refund_id=refused.pk, by=staff, reason="card closed")
        with pytest.raises(CheckoutRefused, match="refund"):
            subscription_set_auto_renew(subscription_id=sub.pk, on=True, by=customer)
    assert not Subscription.objects.get(pk=sub.pk).auto_renew
