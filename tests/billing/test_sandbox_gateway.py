"""The sandbox gateway's other behaviours: delayed approval, abandoned checkouts."""

from datetime import timedelta

import pytest
from django.utils import timezone

from billing.gateways import sandbox
from billing.models import Payment, SandboxTransaction
from billing.tasks import payment_expire_sweep
from subscriptions.models import Subscription

from .helpers import notification, pay_on_sandbox, post_webhook, start_checkout

pytestmark = pytest.mark.django_db


def test_a_delayed_approval_keeps_the_customer_waiting_then_settles(
    client, customer, plan, documents, enqueued, django_capture_on_commit_callbacks
):
    payment = start_checkout(None, customer, plan, documents)
    with django_capture_on_commit_callbacks(execute=True):
        txn = pay_on_sandbox(payment, card=sandbox.CARD_DELAYED)
    assert txn.status == SandboxTransaction.Status.PROCESSING
    assert enqueued.names() == ["billing.tasks.sandbox_delayed_approve"]
    client.force_login(customer)
    page = client.get(f"/billing/payments/{payment.public_id}/return/").content.decode()
    assert "waiting for the bank" in page and 'http-equiv="refresh"' in page
    payment.refresh_from_db()
    assert payment.status == Payment.Status.PENDING and not Subscription.objects.exists()
    enqueued.calls.clear()
    with django_capture_on_commit_callbacks(execute=True):
        sandbox.approve_delayed(txn.pk)
    assert enqueued.names() == ["billing.tasks.sandbox_notify"]
    txn.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        assert post_webhook(client, notification(txn)).status_code == 200
    payment.refresh_from_db()
    assert payment.status == Payment.Status.SUCCEEDED
    assert Subscription.objects.get(customer=customer).status == "active"


def test_an_abandoned_checkout_expires_and_a_late_approval_still_settles(customer, plan, documents, time_machine):
    from billing.services import payment_refresh_from_gateway

    payment = start_checkout(None, customer, plan, documents)
    time_machine.move_to(timezone.now() + timedelta(hours=23), tick=False)
    assert payment_expire_sweep.run() == 0
    pay_on_sandbox(payment)  # approved at the gateway; its notice and the return lost
    time_machine.move_to(timezone.now() + timedelta(hours=2), tick=False)
    assert payment_expire_sweep.run() == 1
    payment.refresh_from_db()
    assert payment.status == Payment.Status.EXPIRED
    payment_refresh_from_gateway(payment=payment)
    payment.refresh_from_db()
    assert payment.status == Payment.Status.SUCCEEDED  # money was taken: it is never lost


def test_an_expired_payment_page_still_open_cannot_be_paid(customer, plan, documents, time_machine):
    """As CloudPayments' Check answers for an expired invoice: the gateway refuses it."""
    payment = start_checkout(None, customer, plan, documents)
    time_machine.move_to(timezone.now() + timedelta(hours=25), tick=False)
    assert payment_expire_sweep.run() == 1
    txn = pay_on_sandbox(payment)  # the customer had the hosted page open all along
    assert txn.status == SandboxTransaction.Status.DECLINED and txn.reason == "The payment page expired"
    payment.refresh_from_db()
    assert payment.status == Payment.Status.EXPIRED and not Subscription.objects.exists()


def test_an_unfinished_checkout_can_be_continued_from_the_account_on_the_same_payment_page(
    client, customer, other_customer, plan, documents
):
    from billing.services import payment_hosted_url

    payment = start_checkout(None, customer, plan, documents)
    first_url = payment_hosted_url(payment=payment)
    client.force_login(customer)
    account = client.get("/account/").content.decode()
    assert f"/billing/payments/{payment.public_id}/continue/" in account
    response = client.get(f"/billing/payments/{payment.public_id}/continue/")
    assert response.status_code == 302 and response["Location"] == first_url
    assert SandboxTransaction.objects.filter(invoice_id=str(payment.public_id)).count() == 1
    client.force_login(other_customer)
    assert client.get(f"/billing/payments/{payment.public_id}/continue/").status_code == 404


def test_continuing_a_payment_the_bank_is_still_deciding_shows_its_result_not_the_card_page(
        client, customer, plan, documents):
    """The card was typed and the bank is slow (3-D Secure): "Continue to payment" from the
    account goes to the payment's result page, which waits, not back to a card form.
    (Found by the customer explorer.)"""

    payment = start_checkout(None, customer, plan, documents)
    pay_on_sandbox(payment, card=sandbox.CARD_DELAYED)
    client.force_login(customer)
    response = client.get(f"/billing/payments/{payment.public_id}/continue/", follow=True)
    assert response.redirect_chain[0][0] == f"/billing/payments/{payment.public_id}/return/"
    assert "The bank is still deciding this payment" in response.content.decode()


def test_continuing_a_payment_the_gateway_approved_shows_it_paid_not_the_card_page(client, customer, plan,
                                                                                    documents):
    """Approved at the gateway, its notification late: "Continue to payment" shows the paid
    result instead of offering the card form again. (Found by the review.)"""
    payment = start_checkout(None, customer, plan, documents)
    pay_on_sandbox(payment, card=sandbox.CARD_APPROVE)  # no notification delivered yet
    client.force_login(customer)
    response = client.get(f"/billing/payments/{payment.public_id}/continue/")
    assert response.status_code == 302 and response["Location"] == f"/billing/payments/{payment.public_id}/return/"
    client.get(response["Location"])
    payment.refresh_from_db()
    assert payment.status == Payment.Status.SUCCEEDED


def test_the_second_of_two_tabs_paid_says_the_payment_was_not_needed(
    client, customer, plan, documents, django_capture_on_commit_callbacks
):
    from billing.gateways import ChargeResult, ChargeStatus
    from billing.services import payment_settle

    second = start_checkout(None, customer, plan, documents, token="tab-2")
    first = start_checkout(None, customer, plan, documents, token="tab-1")  # the newer page: tab-2's expires
    from billing.services import payment_refresh_from_gateway

    with django_capture_on_commit_callbacks(execute=True):
        pay_on_sandbox(first)
        payment_refresh_from_gateway(payment=first)
    with django_capture_on_commit_callbacks(execute=True):
        # A gateway that approved the older page anyway (its check bypassed, a race): the money came.
        payment_settle(public_id=second.public_id, charge=ChargeResult(status=ChargeStatus.APPROVED,
                                                                       gateway_ref="late-1"), source="webhook")
    client.force_login(customer)
    page = client.get(f"/billing/payments/{first.public_id}/return/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Thank you, your payment is received" in page and 'id="duplicate-payment"' not in page
    page = client.get(f"/billing/payments/{second.public_id}/return/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "This payment was not needed" in page and 'id="duplicate-payment"' in page
    assert "agreement with STG LLP is concluded" not in page
    assert Subscription.objects.filter(customer=customer).count() == 1


def test_a_replaced_payment_page_says_no_money_was_taken_and_points_to_the_account(
        client, customer, plan, documents):
    older = start_checkout(None, customer, plan, documents, token="tab-1")
    start_checkout(None, customer, plan, documents, token="tab-2")  # the newer page replaces it
    pay_on_sandbox(older)  # refused by the gateway's check
    client.force_login(customer)
    page = client.get(f"/billing/payments/{older.public_id}/return/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'id="payment-expired"' in page and "No money was taken" in page
    assert 'href="/account/"' in page and "Choose a plan" not in page


def test_a_page_opened_before_a_new_offer_took_effect_cannot_be_paid_after(client, customer, plan, documents,
                                                                           time_machine):
    """Found by the dates review: a page opened at 23:50 and paid at 00:10, the night a new
    Offer took effect, recorded acceptance of the Offer no longer in force. The gateway's
    check now refuses it, and the customer pays again after reading the version in force."""
    import datetime as dt

    from billing.services import payment_refresh_from_gateway
    from offer.models import LegalDocument
    from offer.services import document_publish

    almaty = dt.timezone(dt.timedelta(hours=5))
    time_machine.move_to(dt.datetime(2026, 12, 31, 23, 50, tzinfo=almaty), tick=False)
    amended = LegalDocument.objects.create(kind="offer", label="2027-01-01", title="Public Offer",
                                           body="The amended offer", effective_date=dt.date(2027, 1, 1))
    document_publish(document_id=amended.pk)
    payment = start_checkout(None, customer, plan, documents)
    time_machine.move_to(dt.datetime(2027, 1, 1, 0, 10, tzinfo=almaty), tick=False)
    txn = pay_on_sandbox(payment)
    assert txn.status == SandboxTransaction.Status.DECLINED
    assert txn.reason.startswith("The offer's documents changed after this page was opened")
    payment_refresh_from_gateway(payment=payment)
    payment.refresh_from_db()
    assert payment.status == Payment.Status.FAILED and not Subscription.objects.exists()
    client.force_login(customer)
    client.cookies["django_language"] = "ru"
    page = client.get(f"/billing/payments/{payment.public_id}/return/").content.decode()
    assert "Документы оферты изменились" in page and "Платёж не принят:" in page  # our check, not the bank
    assert "Банк отклонил" not in page
    from offer.services import documents_in_force

    again = start_checkout(None, customer, plan, documents_in_force(), token="tok-2")
    assert {p["kind"]: p["label"] for p in again.pinned_documents}["offer"] == "2027-01-01"
    pay_on_sandbox(again)
    payment_refresh_from_gateway(payment=again)
    again.refresh_from_db()
    assert again.status == Payment.Status.SUCCEEDED
    assert again.acceptance.accepted_documents.get(kind="offer").document == amended


def test_the_account_says_the_bank_is_deciding_a_payment_and_offers_no_second_payment(
        client, customer, plan, documents):
    """Found by the newcomer explorer: with the bank still deciding (the delayed card), the
    account showed "Awaiting payment · Continue to payment", inviting a second payment."""
    from django.conf import settings
    from django.utils import translation

    from billing.services import payment_hosted_url, payment_refresh_from_gateway
    from soldee.models import Event

    payment = start_checkout(None, customer, plan, documents)
    payment_hosted_url(payment=payment)  # the page opened, no card typed yet: the customer may go on paying
    client.force_login(customer)
    continue_url = f"/billing/payments/{payment.public_id}/continue/"
    assert continue_url in client.get("/account/").content.decode()
    pay_on_sandbox(payment, card=sandbox.CARD_DELAYED)
    client.get(f"/billing/payments/{payment.public_id}/return/")  # the sandbox page sends the customer back
    payment.refresh_from_db()
    assert payment.status == Payment.Status.PENDING
    for language in ("en", "ru", "kk"):
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
        page = client.get("/account/").content.decode()
        with translation.override(language):
            assert translation.gettext("The bank is deciding this payment: nothing more to pay") in page
            assert translation.gettext("The bank is deciding a payment") in page  # the history
        assert continue_url not in page
    # Asked again (another return, a look-up): recorded once.
    payment_refresh_from_gateway(payment=payment)
    assert Event.objects.filter(verb="payment.bank_deciding", subject_id=str(payment.pk)).count() == 1
    # The bank approves: paid, as any other payment.
    sandbox.approve_delayed(SandboxTransaction.objects.get(invoice_id=str(payment.public_id)).pk)
    payment_refresh_from_gateway(payment=payment)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    page = client.get("/account/").content.decode()
    assert "The bank is deciding this payment" not in page and continue_url not in page
