import threading

import pytest
from django.db import connection

from billing.gateways import ChargeResult, ChargeStatus
from billing.models import Payment
from billing.services import payment_settle
from offer.models import Acceptance, LegalDocument
from subscriptions.models import Subscription

pytestmark = pytest.mark.django_db


def review(client, plan):
    page = client.get(f"/account/checkout/{plan.code}/")
    assert page.status_code == 200
    form = page.context["form"]
    return {"token": form.initial["token"], "documents": form.initial["documents"], "accept": "on"}


def test_a_customer_without_a_profile_is_sent_to_fill_it_and_brought_back(client, user_without_profile, plan):
    client.force_login(user_without_profile)
    response = client.get(f"/account/checkout/{plan.code}/")
    assert response.status_code == 302
    assert response["Location"] == "/profile/?next=%2Faccount%2Fcheckout%2Fstart%2F"


def test_the_review_page_shows_price_term_renewal_and_the_exact_document_versions(client, customer, plan, documents):
    client.force_login(customer)
    body = client.get(f"/account/checkout/{plan.code}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "₸29,900" in body
    assert "30 calendar days" in body and "Renews automatically" in body
    for doc in documents.values():
        assert doc.get_absolute_url() in body


def test_confirming_redirects_to_the_hosted_page_and_double_submit_makes_one_payment(client, customer, plan, documents):
    client.force_login(customer)
    data = review(client, plan)
    first = client.post(f"/account/checkout/{plan.code}/", data)
    second = client.post(f"/account/checkout/{plan.code}/", data)
    assert first.status_code == second.status_code == 302
    assert "/billing/sandbox-gateway/pay/" in first["Location"]
    assert first["Location"] == second["Location"]
    payment = Payment.objects.get()
    assert payment.status == Payment.Status.PENDING
    assert payment.amount_minor == plan.price_minor and payment.currency == "KZT"
    assert {p["kind"] for p in payment.pinned_documents} == {"offer", "privacy", "terms"}
    assert not Acceptance.objects.exists()  # no payment, no acceptance


def test_confirmation_is_required(client, customer, plan, documents):
    client.force_login(customer)
    data = review(client, plan)
    del data["accept"]
    response = client.post(f"/account/checkout/{plan.code}/", data, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    assert "Please confirm that you accept the documents." in response.content.decode()
    assert not Payment.objects.exists()


def test_a_document_published_while_reading_sends_the_customer_back_to_review(client, customer, plan, documents):
    from offer.services import document_publish

    client.force_login(customer)
    data = review(client, plan)
    new = LegalDocument.objects.create(kind="offer", label="2026-11-25", title="Public Offer",
                                       body="Amended text", effective_date=documents["offer"].effective_date.today())
    document_publish(document_id=new.pk)
    response = client.post(f"/account/checkout/{plan.code}/", data, follow=True, HTTP_ACCEPT_LANGUAGE="en")
    assert "updated while you were reading" in response.content.decode()
    assert not Payment.objects.exists()


def _pay(payment):
    return payment_settle(public_id=payment.public_id, source="test", charge=ChargeResult(
        status=ChargeStatus.APPROVED, gateway_ref=f"ref-{payment.pk}", amount_minor=payment.amount_minor,
        currency=payment.currency, card_token=f"tok-{payment.pk}", card_mask="•••• 4242"))


def test_buying_while_a_subscription_is_live_is_refused(client, customer, plan, documents):
    client.force_login(customer)
    client.post(f"/account/checkout/{plan.code}/", review(client, plan))
    _pay(Payment.objects.get())
    response = client.post(f"/account/checkout/{plan.code}/", review(client, plan), follow=True,
                           HTTP_ACCEPT_LANGUAGE="en")
    assert "You already have an active subscription" in response.content.decode()
    assert Payment.objects.count() == 1


def test_a_price_change_never_alters_what_was_paid_or_accepted(client, customer, plan, documents):
    client.force_login(customer)
    client.post(f"/account/checkout/{plan.code}/", review(client, plan))
    payment = Payment.objects.get()
    _pay(payment)
    plan.price_minor = 9_990_000
    plan.save()
    payment.refresh_from_db()
    assert payment.amount_minor == 2_990_000
    assert Acceptance.objects.get().price_minor == 2_990_000


def test_a_second_checkout_paid_in_parallel_never_makes_a_second_live_subscription(customer, plan, documents):
    from subscriptions.services import checkout_start

    ids = [d.pk for d in documents.values()]
    first = checkout_start(customer=customer, plan=plan, document_ids=ids, token="a", client_ip=None, user_agent="")
    second = checkout_start(customer=customer, plan=plan, document_ids=ids, token="b", client_ip=None, user_agent="")
    _pay(first)
    _pay(second)
    assert Subscription.objects.filter(customer=customer).count() == 1
    assert Acceptance.objects.count() == 1
    from soldee.models import Event

    assert Event.objects.filter(verb="payment.duplicate_purchase").count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicate_settlements_on_postgres_make_one_of_everything(require_postgres, customer, plan, documents):
    from subscriptions.services import checkout_start

    payment = checkout_start(customer=customer, plan=plan, document_ids=[d.pk for d in documents.values()],
                             token="race", client_ip=None, user_agent="")
    barrier = threading.Barrier(8)
    results, errors = [], []

    def worker():
        try:
            barrier.wait()
            results.append(_pay(payment)[1])
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert results.count(True) == 1
    assert Acceptance.objects.count() == 1
    assert Subscription.objects.count() == 1


def test_a_second_checkout_waits_while_the_bank_decides_the_first(customer, plan, documents):
    from billing.gateways import sandbox
    from billing.services import payment_hosted_url
    from subscriptions.services import CheckoutRefused
    from tests.billing.helpers import pay_on_sandbox, start_checkout

    abandoned = start_checkout(None, customer, plan, documents, token="tab-0")
    payment_hosted_url(payment=abandoned)  # the page was opened, no card typed: not in flight
    first = start_checkout(None, customer, plan, documents, token="tab-1")
    txn = pay_on_sandbox(first, card=sandbox.CARD_DELAYED)  # submitted; the bank answers later
    with pytest.raises(CheckoutRefused, match="still being processed by the bank"):
        start_checkout(None, customer, plan, documents, token="tab-2")
    assert start_checkout(None, customer, plan, documents, token="tab-1") == first  # its own page again
    sandbox.approve_delayed(txn.pk)  # the bank approves; the notification has not come yet
    with pytest.raises(CheckoutRefused, match="already have an active subscription"):
        start_checkout(None, customer, plan, documents, token="tab-3")  # it asked the gateway: settled
    first.refresh_from_db()
    assert first.status == Payment.Status.SUCCEEDED
    assert Payment.objects.filter(customer=customer, status=Payment.Status.SUCCEEDED).count() == 1


def test_an_undecided_payment_blocks_a_new_checkout_for_an_hour_at_most(customer, plan, documents, time_machine):
    from datetime import timedelta

    from django.utils import timezone

    from billing.gateways import sandbox
    from subscriptions.services import CheckoutRefused
    from tests.billing.helpers import pay_on_sandbox, start_checkout

    first = start_checkout(None, customer, plan, documents, token="tab-1")
    pay_on_sandbox(first, card=sandbox.CARD_DELAYED)  # e.g. a 3-D Secure page the customer closed
    time_machine.move_to(timezone.now() + timedelta(minutes=59), tick=False)
    with pytest.raises(CheckoutRefused, match="still being processed"):
        start_checkout(None, customer, plan, documents, token="tab-2")
    time_machine.move_to(timezone.now() + timedelta(minutes=2), tick=False)
    assert start_checkout(None, customer, plan, documents, token="tab-3").status == Payment.Status.PENDING


def test_a_gateway_failure_while_checking_earlier_payments_does_not_stop_the_checkout(
        customer, plan, documents, monkeypatch):
    from billing.gateways import sandbox
    from billing.gateways.sandbox import SandboxGateway
    from tests.billing.helpers import pay_on_sandbox, start_checkout

    first = start_checkout(None, customer, plan, documents, token="tab-1")
    pay_on_sandbox(first, card=sandbox.CARD_DELAYED)

    def broken(self, **kwargs):
        raise RuntimeError("unexpected answer")

    monkeypatch.setattr(SandboxGateway, "lookup", broken)
    assert start_checkout(None, customer, plan, documents, token="tab-2").status == Payment.Status.PENDING


def test_an_older_payment_page_left_open_in_another_tab_cannot_be_paid(customer, plan, documents):
    """Two tabs, two hosted pages: opening the second expires the first (opened, not paid),
    and the gateway refuses paying it, so one purchase is charged once."""
    from billing.gateways import sandbox
    from billing.models import SandboxTransaction
    from billing.services import payment_refresh_from_gateway
    from subscriptions.services import checkout_start

    from ..billing.helpers import pay_on_sandbox

    ids = [d.pk for d in documents.values()]
    first = checkout_start(customer=customer, plan=plan, document_ids=ids, token="a", client_ip=None, user_agent="")
    second = checkout_start(customer=customer, plan=plan, document_ids=ids, token="b", client_ip=None, user_agent="")
    first.refresh_from_db()
    assert first.status == Payment.Status.EXPIRED
    pay_on_sandbox(second, card=sandbox.CARD_APPROVE)
    payment_refresh_from_gateway(payment=second)
    txn = pay_on_sandbox(first, card=sandbox.CARD_APPROVE)
    assert txn.status == SandboxTransaction.Status.DECLINED
    payment_refresh_from_gateway(payment=first)
    assert Payment.objects.filter(customer=customer, status=Payment.Status.SUCCEEDED).count() == 1
    assert Subscription.objects.filter(customer=customer).count() == 1


def test_the_form_of_a_replaced_tab_sent_again_leaves_the_newer_page_payable(customer, plan, documents):
    from subscriptions.services import CheckoutRefused, checkout_start

    ids = [d.pk for d in documents.values()]
    checkout_start(customer=customer, plan=plan, document_ids=ids, token="a", client_ip=None, user_agent="")
    newer = checkout_start(customer=customer, plan=plan, document_ids=ids, token="b", client_ip=None, user_agent="")
    with pytest.raises(CheckoutRefused, match="replaced by a newer one"):
        checkout_start(customer=customer, plan=plan, document_ids=ids, token="a", client_ip=None, user_agent="")
    newer.refresh_from_db()
    assert newer.status == Payment.Status.PENDING  # still the one to pay
    assert checkout_start(customer=customer, plan=plan, document_ids=ids, token="b", client_ip=None,
                          user_agent="").pk == newer.pk  # a double click: the same payment
