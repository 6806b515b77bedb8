"""Two tabs of one hosted payment page, both paid past the gateway's check: the gateway
reports a second approved transaction for an order already paid. The money came twice; the
second is recorded as a payment of its own that bought nothing, receipted, refunded on
request like any other, and never silently dropped. (Found by the money review.)"""

import pytest

from billing import services as billing
from billing.gateways import ChargeResult, ChargeStatus, Notification
from billing.models import Payment, PaymentDocument, PaymentMethod
from refunds import services as refunds
from refunds.models import RefundRequest
from soldee import events
from soldee.models import Event
from subscriptions.models import Subscription, Term

from .helpers import start_checkout

pytestmark = pytest.mark.django_db


def _pay_notification(payment, ref: str, token: str) -> str:
    charge = ChargeResult(status=ChargeStatus.APPROVED, gateway_ref=ref, amount_minor=payment.amount_minor,
                          currency=payment.currency, card_token=token, card_mask=f"•••• {ref[-4:]}")
    note = Notification(event_id=f"Pay:{ref}", kind="payment.succeeded", invoice_id=str(payment.public_id),
                        charge=charge)
    row, _created = billing.notification_store(gateway=payment.gateway, notification=note, body=ref.encode(),
                                               headers={})
    return billing.notification_process(inbox_id=row.pk, notification=note)


def test_a_second_transaction_for_a_paid_order_becomes_a_payment_that_bought_nothing(
        customer, plan, documents, enqueued, django_capture_on_commit_callbacks):
    first = start_checkout(None, customer, plan, documents)
    with django_capture_on_commit_callbacks(execute=True):
        _pay_notification(first, "1001", "tok-first")
        _pay_notification(first, "1002", "tok-second")
        _pay_notification(first, "1002", "tok-second")  # the gateway repeats it: recorded once
    first.refresh_from_db()
    assert first.status == Payment.Status.SUCCEEDED and first.gateway_ref == "1001"
    second = Payment.objects.get(gateway_ref="1002")
    assert second.pk != first.pk and second.status == Payment.Status.SUCCEEDED
    assert (second.amount_minor, second.currency, second.purpose) == (first.amount_minor, first.currency,
                                                                      first.purpose)
    assert Payment.objects.filter(customer=customer, status="succeeded").count() == 2
    # It bought nothing: one subscription, one term, and the renewal card is the first one's.
    assert Subscription.objects.filter(customer=customer).count() == 1
    assert Term.objects.filter(subscription__customer=customer).count() == 1
    assert not Term.objects.filter(payment=second).exists()
    assert list(PaymentMethod.objects.filter(customer=customer, is_active=True).values_list("token", flat=True)) \
        == ["tok-first"]
    marked = Event.objects.get(verb=events.SECOND_TRANSACTION)
    assert marked.subject_id == str(second.pk) and marked.data["gateway_ref"] == "1002"
    assert PaymentDocument.objects.filter(payment=second, doc_type="receipt").exists()  # the money came
    assert "soldee.tasks.staff_alert" in enqueued.names()
    # The refunds sweep opens the request on the customer's behalf; staff approve it.
    assert refunds.refund_requests_open_for_unapplied() == 1
    request = RefundRequest.objects.get(payment=second)
    assert request.ground == RefundRequest.Ground.NO_ACCESS and request.eligible


def test_staff_read_a_payment_that_bought_nothing_as_such_in_the_payments_list(
        customer, plan, documents, staff_admin, django_capture_on_commit_callbacks):
    """Found by the admin-lists helper: it read just "Purchase", like the one that paid."""
    import re

    first = start_checkout(None, customer, plan, documents)
    with django_capture_on_commit_callbacks(execute=True):
        _pay_notification(first, "1001", "tok-first")
        _pay_notification(first, "1002", "tok-second")
    second = Payment.objects.get(gateway_ref="1002")
    page = staff_admin.get("/admin/billing/payment/").content.decode()
    labels = dict(re.findall(r'/admin/billing/payment/(\d+)/change/.*?class="field-purpose_label[ "][^>]*>(.*?)</td>',
                             page, re.S))
    assert labels == {str(first.pk): "Purchase", str(second.pk): "Purchase — bought nothing, to be refunded"}


def test_the_purpose_filter_lists_exactly_the_payments_that_bought_nothing(
        customer, other_customer, plan, documents, staff_admin, settings, monkeypatch,
        django_capture_on_commit_callbacks):
    """The column said "… — bought nothing, to be refunded", but the purpose filter had no
    such choice: staff could not list the payments waiting to be refunded."""
    import re

    from django.utils.translation import trans_real

    first = start_checkout(None, customer, plan, documents)
    other = start_checkout(None, other_customer, plan, documents)
    with django_capture_on_commit_callbacks(execute=True):
        _pay_notification(first, "1001", "tok-first")
        _pay_notification(first, "1002", "tok-second")
        _pay_notification(other, "2001", "tok-other")
    second = Payment.objects.get(gateway_ref="1002")
    listed = staff_admin.get("/admin/billing/payment/?purpose=bought_nothing").context["cl"].result_list
    assert [p.pk for p in listed] == [second.pk]
    assert {p.pk for p in staff_admin.get("/admin/billing/payment/?purpose=subscription.checkout")
            .context["cl"].result_list} == {first.pk, second.pk, other.pk}  # still purchases, as the column reads
    page = staff_admin.get("/admin/billing/payment/").content.decode()
    assert re.search(r'<a href="\?purpose=bought_nothing"[^>]*>Bought nothing, to be refunded</a>', page)
    settings.LANGUAGE_CODE = "ru"
    monkeypatch.setattr(trans_real, "_translations", {})
    staff_admin.cookies["django_language"] = "ru"
    page = staff_admin.get("/admin/billing/payment/").content.decode()
    assert re.search(r'<a href="\?purpose=bought_nothing"[^>]*>Ничего не куплено, подлежит возврату</a>', page)
