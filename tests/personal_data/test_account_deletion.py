"""Deletion of an account (RK Law on Personal Data): the customer asks, staff confirm in
the admin, personal fields are anonymised and the login closed; payments, acceptances
(with their customer snapshot), events and documents stay (accounting law)."""

import pytest
from django.contrib.auth import get_user_model
from django.db import transaction

from accounts import personal_data
from accounts.models import AccountDeletionRequest, DataExport
from billing.models import Payment
from offer.models import Acceptance
from soldee.models import Event
from subscriptions.services import subscription_end


def _end(subscription):
    with transaction.atomic():
        subscription_end(subscription_id=subscription.pk, reason="cancelled")


def _ask(client, customer):
    client.force_login(customer)
    return client.post("/profile/privacy/delete/", {"reason": "Moving on", "confirm": "on"}, follow=True)


def test_deletion_is_refused_while_a_subscription_is_live(client, customer, buy):
    buy(customer)
    response = _ask(client, customer)
    assert "Turn off automatic renewal" in response.content.decode()
    assert "Moving on" in response.content.decode()  # the reason typed is kept for later
    assert not AccountDeletionRequest.objects.exists()


def test_the_request_needs_the_confirmation_box(client, customer):
    client.force_login(customer)
    response = client.post("/profile/privacy/delete/", {"reason": "x"})
    assert response.status_code == 200
    assert not AccountDeletionRequest.objects.exists()


def test_request_then_staff_confirmation_anonymises_and_keeps_the_records(
        client, customer, buy, staff_client, staff, enqueued, mailoutbox, django_capture_on_commit_callbacks):
    from allauth.account.models import EmailAddress

    from subscriptions.credentials import key_hash
    from subscriptions.models import AgentCredential

    payment = buy(customer)
    key = AgentCredential.objects.create(customer=customer, key_hash=key_hash("sk_cust_k"), prefix="sk_cust_k")
    _end(payment.term.subscription)
    old_email, snapshot = customer.email, payment.acceptance.customer_snapshot
    with django_capture_on_commit_callbacks(execute=True):
        _ask(client, customer)
    deletion = AccountDeletionRequest.objects.get()
    assert deletion.status == AccountDeletionRequest.Status.REQUESTED and deletion.reason == "Moving on"
    assert "soldee.tasks.staff_alert" in enqueued.names()
    enqueued.run("accounts.tasks.customer_email")  # the customer hears it was received
    assert mailoutbox[-1].to == [old_email] and "We received your request to delete" in mailoutbox[-1].body
    enqueued.calls.clear()

    action = {"action": "confirm_deletion", "_selected_action": [deletion.pk]}
    page = staff_client.post("/admin/accounts/accountdeletionrequest/", action)  # asks first
    assert page.status_code == 200 and "This cannot be undone" in page.content.decode()
    assert AccountDeletionRequest.objects.get(pk=deletion.pk).status == AccountDeletionRequest.Status.REQUESTED
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post("/admin/accounts/accountdeletionrequest/", {**action, "confirmed": "yes"})
    assert response.status_code == 302
    deletion.refresh_from_db()
    assert deletion.status == AccountDeletionRequest.Status.COMPLETED and deletion.decided_by == staff

    user = get_user_model().objects.get(pk=customer.pk)
    assert user.email == f"deleted-{user.pk}@invalid"
    assert not user.is_active and not user.has_usable_password()
    profile = user.profile
    assert profile.name == f"deleted-{user.pk}"
    assert (profile.iin_bin, profile.address, profile.phone, profile.signatory_name) == ("", "", "", "")
    assert not EmailAddress.objects.filter(user=user).exists()
    assert not EmailAddress.objects.filter(email__iexact=old_email).exists()

    # The saved card can never be charged again: its token is gone, the row (and the
    # payment naming it) stays with the card mask.
    from billing.models import PaymentMethod

    card = PaymentMethod.objects.get(customer=user)
    assert payment.payment_method_id == card.pk
    assert card.token == f"erased:{card.pk}" and not card.is_active and card.card_mask == "•••• 4242"
    assert not PaymentMethod.objects.filter(token__startswith="tok-secret").exists()
    erased = Event.objects.get(verb="card.erased")
    assert erased.customer == user and erased.actor == staff and erased.subject_id == str(card.pk)
    assert Event.objects.get(verb="account.anonymised").data["cards_erased"] == 1
    key.refresh_from_db()  # the AI agent's key stops working too
    assert key.revoked_at is not None and key.revoke_reason == "account deleted"
    assert Event.objects.get(verb="account.anonymised").data["agent_keys_revoked"] == 1
    assert Event.objects.get(verb="access.key_revoked").data["transferred"] is False  # not worded as clause 8

    # Kept: the accounting and contract evidence.
    assert Payment.objects.filter(pk=payment.pk, customer=user).exists()
    acceptance = Acceptance.objects.get(payment=payment)
    assert acceptance.customer_snapshot == snapshot and snapshot["email"] == old_email
    assert Event.objects.filter(customer=user, verb="subscription.started").exists()
    event = Event.objects.get(verb="account.anonymised")
    assert event.actor == staff and event.customer == user and old_email not in str(event.data)

    # The customer is told, at the address they had.
    enqueued.run("accounts.tasks.customer_email")
    assert mailoutbox[-1].to == [old_email]
    assert "deleted" in mailoutbox[-1].subject.lower()

    # The login is closed: the old session is gone and the password no longer works.
    assert client.get("/profile/privacy/").status_code == 302
    client.logout()
    client.post("/accounts/login/", {"login": old_email, "password": "correct-horse-battery-9"})
    assert "_auth_user_id" not in client.session


def test_staff_confirmation_is_refused_if_a_subscription_became_live(customer, plan, documents, staff):
    from billing.gateways import ChargeResult, ChargeStatus
    from billing.models import SandboxTransaction
    from billing.services import payment_refresh_from_gateway, payment_settle

    from ..billing.helpers import pay_on_sandbox, start_checkout

    payment = start_checkout(None, customer, plan, documents)  # a payment page opened before the request
    deletion = personal_data.deletion_request_create(customer=customer)
    txn = pay_on_sandbox(payment)  # the gateway's check refuses it now ...
    assert txn.status == SandboxTransaction.Status.DECLINED and "account is closed" in txn.reason
    payment_refresh_from_gateway(payment=payment)
    # ... but a gateway that took the money without asking makes the subscription live:
    payment_settle(public_id=payment.public_id, source="test", charge=ChargeResult(
        status=ChargeStatus.APPROVED, gateway_ref="late-1", amount_minor=payment.amount_minor,
        currency=payment.currency))
    try:
        personal_data.deletion_confirm(request_id=deletion.pk, by=staff)
    except personal_data.PersonalDataRefused:
        pass
    else:
        raise AssertionError("a live subscription must block anonymisation")
    customer.refresh_from_db()
    assert customer.is_active and "@invalid" not in customer.email


def test_confirmation_deletes_the_customers_exports(customer, staff, enqueued, django_capture_on_commit_callbacks):
    from django.core.files.storage import default_storage

    with django_capture_on_commit_callbacks(execute=True):
        export = personal_data.data_export_request(customer=customer)
    enqueued.run("accounts.tasks.data_export_build")
    export.refresh_from_db()
    name = export.file.name
    assert default_storage.exists(name)
    deletion = personal_data.deletion_request_create(customer=customer)
    with django_capture_on_commit_callbacks(execute=True):
        personal_data.deletion_confirm(request_id=deletion.pk, by=staff)
    export.refresh_from_db()
    assert export.status == DataExport.Status.EXPIRED and not default_storage.exists(name)


def test_staff_can_reject_with_a_reason_the_customer_is_told(customer, staff_client, enqueued, mailoutbox,
                                                             django_capture_on_commit_callbacks):
    deletion = personal_data.deletion_request_create(customer=customer)
    enqueued.calls.clear()
    form = staff_client.post("/admin/accounts/accountdeletionrequest/", {
        "action": "reject_deletion", "_selected_action": [deletion.pk]})
    assert form.status_code == 200 and b'name="note"' in form.content
    assert form.content.decode().count("<h1>Reject account deletion</h1>") == 1  # the admin's heading, once
    with django_capture_on_commit_callbacks(execute=True):
        done = staff_client.post("/admin/accounts/accountdeletionrequest/", {
            "action": "reject_deletion", "_selected_action": [deletion.pk], "apply": "1",
            "note": "An open refund must be settled first."}, follow=True)
    assert "1 request rejected; the customer is e-mailed the reason." in [str(m) for m in done.context["messages"]]
    deletion.refresh_from_db()
    assert deletion.status == AccountDeletionRequest.Status.REJECTED
    enqueued.run("accounts.tasks.customer_email")
    assert mailoutbox[-1].to == [customer.email]
    assert "An open refund must be settled first." in mailoutbox[-1].body
    customer.refresh_from_db()
    assert customer.is_active


def test_a_decided_request_cannot_be_confirmed_again(customer, staff):
    deletion = personal_data.deletion_request_create(customer=customer)
    personal_data.deletion_confirm(request_id=deletion.pk, by=staff)
    try:
        personal_data.deletion_confirm(request_id=deletion.pk, by=staff)
    except personal_data.PersonalDataRefused:
        pass
    else:
        raise AssertionError("second confirmation must be refused")
    assert Event.objects.filter(verb="account.anonymised").count() == 1


def test_a_payment_approved_after_the_account_was_deleted_starts_nothing_and_is_returned(
    customer, plan, documents, staff, enqueued, django_capture_on_commit_callbacks,
):
    """The customer left a payment page open (or 3-D Secure was slow), asked for deletion,
    and staff confirmed it; then the gateway approved. No subscription may start renewing a
    card nobody can cancel: no agreement, no card kept, and a refund request for staff."""
    from billing.models import PaymentMethod
    from billing.services import payment_refresh_from_gateway
    from refunds.models import RefundRequest
    from subscriptions.models import Subscription

    from ..billing.helpers import pay_on_sandbox, start_checkout

    payment = start_checkout(None, customer, plan, documents)
    pay_on_sandbox(payment)  # approved by the bank; its notice and the return arrive after the deletion
    deletion = personal_data.deletion_request_create(customer=customer)
    personal_data.deletion_confirm(request_id=deletion.pk, by=staff)
    enqueued.calls.clear()
    with django_capture_on_commit_callbacks(execute=True):
        payment_refresh_from_gateway(payment=payment)
    payment.refresh_from_db()
    assert payment.status == Payment.Status.SUCCEEDED and payment.payment_method is None
    assert not Subscription.objects.filter(customer=customer).exists()
    assert not PaymentMethod.objects.filter(customer=customer, is_active=True).exists()
    assert not Acceptance.objects.filter(payment=payment).exists()
    assert Event.objects.filter(verb="payment.unapplied_closed_account", subject_id=str(payment.pk)).exists()
    with django_capture_on_commit_callbacks(execute=True):
        assert enqueued.run("refunds.tasks.refund_request_for_unapplied") == 1
    assert RefundRequest.objects.get(payment=payment).eligible is True


def test_no_purchase_while_a_deletion_request_waits(client, customer, plan, documents, staff):
    from subscriptions.services import CheckoutRefused, checkout_start

    deletion = personal_data.deletion_request_create(customer=customer)
    with pytest.raises(CheckoutRefused, match="asked us to delete your account"):
        checkout_start(customer=customer, plan=plan, document_ids=[d.pk for d in documents.values()], token="t",
                       client_ip=None, user_agent="")
    personal_data.deletion_reject(request_id=deletion.pk, by=staff, note="Withdrawn at the customer's request")
    assert checkout_start(customer=customer, plan=plan, document_ids=[d.pk for d in documents.values()], token="t",
                          client_ip=None, user_agent="").status == Payment.Status.PENDING


def test_the_sandbox_page_refuses_a_payment_of_a_deleted_account(customer, plan, documents, staff):
    """As CloudPayments' Check answers: the money is not taken in the first place."""
    from billing.models import SandboxTransaction

    from ..billing.helpers import pay_on_sandbox, start_checkout

    payment = start_checkout(None, customer, plan, documents)
    deletion = personal_data.deletion_request_create(customer=customer)
    personal_data.deletion_confirm(request_id=deletion.pk, by=staff)
    txn = pay_on_sandbox(payment)
    assert txn.status == SandboxTransaction.Status.DECLINED and "account is closed" in txn.reason


def test_an_anonymised_account_is_sent_no_more_e_mail(customer, staff, mailoutbox):
    """Notices about its old payments (a refund, a copy ready) are kept in the records, not
    sent to "deleted-<id>@invalid"; the goodbye e-mail goes to the old address it is given."""
    from soldee.emails import send_customer_email

    deletion = personal_data.deletion_request_create(customer=customer)
    personal_data.deletion_confirm(request_id=deletion.pk, by=staff)
    customer.refresh_from_db()
    assert customer.email.endswith("@invalid")
    assert send_customer_email(user=customer, template="accounts/emails/account_deleted", context={}) is False
    assert mailoutbox == []
    assert send_customer_email(user=customer, template="accounts/emails/account_deleted", context={},
                               to=["old@example.kz"]) is True
    assert mailoutbox[-1].to == ["old@example.kz"]


def test_the_deletion_texts_say_contract_records_are_kept_unchanged_and_posted_addresses_go(
        client, customer, staff, plan, documents):
    """Contract and accounting records keep the details they were made with (Privacy Policy
    6.1; docs/personal-data.md): the page and the goodbye e-mail say so, and do not promise
    they lose the contact details. What is not such a record goes: the address a paper copy
    was posted to. (Found by the audit and the staff explorer.)"""
    from django.utils import timezone

    from offer import agreement_copies
    from offer.models import AgreementCopyRequest
    from tests.billing.helpers import buy

    client.force_login(customer)
    page = client.get("/profile/privacy/").content.decode()
    assert "kept unchanged, with the details they were made with" in page and "without your contact" not in page
    payment = buy(customer, plan, documents)
    acceptance = Acceptance.objects.get(payment=payment)
    request, _created = agreement_copies.request_copy(acceptance_id=acceptance.pk, by=customer)
    assert "postal_address" not in Event.objects.get(verb="agreement_copy.requested").data
    AgreementCopyRequest.objects.filter(pk=request.pk).update(
        status="posted", postal_address="Almaty, Abay 1", recipient_name="Aigerim", tracking_number="RR1",
        printed_at=timezone.now(), posted_at=timezone.now(), ready_at=timezone.now())
    from subscriptions.models import Subscription

    with transaction.atomic():
        subscription_end(subscription_id=Subscription.objects.get(customer=customer).pk, reason="cancelled")
    deletion = personal_data.deletion_request_create(customer=customer)
    personal_data.deletion_confirm(request_id=deletion.pk, by=staff)
    request.refresh_from_db()
    assert (request.postal_address, request.recipient_name) == ("", "")
    acceptance.refresh_from_db()
    assert acceptance.customer_snapshot["email"]  # the contract record is unchanged


def test_a_past_due_customer_whose_deletion_request_waits_cannot_pay_the_renewal_with_another_card(
        client, customer, plan, documents, time_machine):
    """A subscription can be live while a deletion request waits (a payment page the bank
    approved after the request, an invoice issued before it and paid): its past-due
    renewal is a purchase too, refused as checkout is, with the same words, nothing recorded."""
    from datetime import timedelta

    from billing.gateways import sandbox
    from billing.models import PaymentMethod
    from subscriptions import renewals
    from subscriptions.models import RenewalAttempt, Subscription
    from tests.billing.helpers import buy as buy_with

    buy_with(customer, plan, documents, card=sandbox.CARD_DECLINE_RENEWALS, token="del-past-due")
    sub = Subscription.objects.get(customer=customer)
    time_machine.move_to(sub.current_period_end - timedelta(hours=1), tick=False)
    renewals.renewals_run()
    sub.refresh_from_db()
    assert sub.status == Subscription.Status.PAST_DUE
    client.force_login(customer)
    url = f"/account/subscriptions/{sub.pk}/pay/"
    token = client.get(url).context["token"]  # a tab opened before the request
    # deletion_request_create refuses while a subscription is live: the request came first
    AccountDeletionRequest.objects.create(customer=customer, reason="Moving on")
    payments, attempts = Payment.objects.count(), RenewalAttempt.objects.count()
    card = PaymentMethod.objects.get(customer=customer, is_active=True)
    opened_now = client.get(url, HTTP_ACCEPT_LANGUAGE="en")  # the page says so at once, no form
    assert "token" not in opened_now.context
    assert "You asked us to delete your account, so no purchase can be made." in opened_now.content.decode()
    response = client.post(url, {"token": token}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 302 and response["Location"] == url  # back to the form, as checkout
    page = client.get(response["Location"], HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "You asked us to delete your account, so no purchase can be made." in page
    assert (Payment.objects.count(), RenewalAttempt.objects.count()) == (payments, attempts)  # nothing recorded
    assert PaymentMethod.objects.get(customer=customer, is_active=True) == card
    sub.refresh_from_db()
    assert sub.status == Subscription.Status.PAST_DUE
