"""A real Celery worker on Redis runs the post-payment work (PostgreSQL + Redis)."""

import time

import pytest
from celery.contrib.testing.worker import start_worker
from django.core import mail

from billing.gateways import ChargeResult, ChargeStatus
from billing.services import payment_settle
from soldee.celery import app
from subscriptions.models import AccessGrant
from subscriptions.services import checkout_start

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def wait_for(predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def test_a_paid_checkout_gets_access_and_a_receipt_through_a_real_worker(
    require_postgres, require_redis, customer, plan, documents, settings
):
    settings.CELERY_BROKER_URL = app.conf.broker_url
    with start_worker(app, pool="threads", concurrency=2, perform_ping_check=False, shutdown_timeout=10):
        payment = checkout_start(customer=customer, plan=plan, document_ids=[d.pk for d in documents.values()],
                                 token="worker", client_ip=None, user_agent="")
        payment_settle(public_id=payment.public_id, source="test", charge=ChargeResult(
            status=ChargeStatus.APPROVED, amount_minor=payment.amount_minor, currency="KZT"))
        grant = AccessGrant.objects.get(term__payment=payment)
        assert wait_for(lambda: AccessGrant.objects.get(pk=grant.pk).status == "granted"), "access not granted"
        assert wait_for(lambda: len(mail.outbox) == 1), "no receipt e-mail"
    grant.refresh_from_db()
    assert grant.granted_on_time


def test_the_renewal_sweep_renews_through_a_real_worker(require_postgres, require_redis, plan, documents, settings):
    settings.CELERY_BROKER_URL = app.conf.broker_url
    from billing.models import PaymentDocument
    from subscriptions.models import Term
    from subscriptions.tasks import renewal_sweep
    from subscriptions.testing import seed_due_subscriptions

    ids = seed_due_subscriptions(n=3, plan=plan)
    with start_worker(app, pool="threads", concurrency=2, perform_ping_check=False, shutdown_timeout=10):
        renewal_sweep.delay()
        assert wait_for(lambda: Term.objects.filter(subscription_id__in=ids).count() == 3), "not renewed"
        assert wait_for(lambda: AccessGrant.objects.filter(term__subscription_id__in=ids, status="granted").count() == 3)
        # ... and the rest of what the settlement handed on (receipt PDFs, receipt e-mails) is
        # done before the worker stops: a task still writing would hold up the test's flush.
        receipts = PaymentDocument.objects.filter(doc_type="receipt", payment__purpose="subscription.renewal")
        assert wait_for(lambda: receipts.filter(rendered_at__isnull=False).count() == 3), "receipts not rendered"
        assert wait_for(lambda: len(mail.outbox) == 3), "receipt e-mails not sent"


def test_the_renewal_sweeps_have_a_queue_of_their_own_declared_for_workers_started_without_q():
    """Declared, a worker started without -Q consumes it: the real-worker test above sends
    renewal_sweep (routed there) to such a worker and sees the renewals."""
    from django.conf import settings

    route = app.amqp.router.route({}, "subscriptions.tasks.renewal_sweep")
    assert route["queue"].name == settings.RENEWALS_QUEUE != app.conf.task_default_queue
    assert app.amqp.router.route({}, "subscriptions.tasks.access_grant")["queue"].name == "celery"
    assert {q.name for q in app.amqp.queues.values()} >= {"celery", settings.RENEWALS_QUEUE}
