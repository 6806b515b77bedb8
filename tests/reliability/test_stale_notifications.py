"""A stale notification after a refund never resurrects anything."""

import pytest

from billing.models import Payment
from offer.models import Acceptance
from refunds import services as refunds
from refunds.models import RefundRequest
from subscriptions.models import Subscription

from ..billing.helpers import notification, pay_on_sandbox, post_webhook, start_checkout
from ..factories import UserFactory

pytestmark = pytest.mark.django_db


def test_a_late_duplicate_success_after_a_full_refund_changes_nothing(
    client, customer, plan, documents, django_capture_on_commit_callbacks
):
    payment = start_checkout(None, customer, plan, documents)
    txn = pay_on_sandbox(payment)
    first = notification(txn, event_id="evt_first")
    with django_capture_on_commit_callbacks(execute=True):
        post_webhook(client, first)
    staff = UserFactory(is_staff=True, is_superuser=True)
    ground = RefundRequest.Ground.values[0]
    request = refunds.refund_request_create(customer=customer, payment_id=payment.pk, ground=ground,
                                            explanation="The agent never worked for us.")
    with django_capture_on_commit_callbacks(execute=True):
        refund = refunds.refund_request_approve(request_id=request.pk, by=staff)
    refunds.refund_execute(refund_id=refund.pk)
    subscription = Subscription.objects.get(customer=customer)
    assert subscription.status == "ended" and subscription.end_reason == "refunded"
    # the gateway re-sends the old success, once as a duplicate and once under a new id
    with django_capture_on_commit_callbacks(execute=True):
        assert post_webhook(client, first).status_code == 200
        assert post_webhook(client, notification(txn, event_id="evt_late")).status_code == 200
    subscription.refresh_from_db()
    payment.refresh_from_db()
    assert subscription.status == "ended"
    assert Subscription.objects.filter(customer=customer).count() == 1
    assert Acceptance.objects.count() == 1
    assert payment.status == Payment.Status.SUCCEEDED and payment.refunded_minor == payment.amount_minor
