"""1,000 duplicate deliveries of one payment notification from 50 threads (PostgreSQL)."""

import threading
import time

import pytest
from django.db import connection
from django.test import Client

from billing.models import IncomingNotification, Payment
from offer.models import Acceptance
from subscriptions.models import Subscription

from ..billing.helpers import notification, pay_on_sandbox, post_webhook, start_checkout

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_a_thousand_duplicate_deliveries_from_fifty_threads_make_one_of_everything(
    require_postgres, customer, plan, documents, enqueued
):
    payment = start_checkout(None, customer, plan, documents)
    body = notification(pay_on_sandbox(payment), event_id="evt_storm")
    codes, lock = [], threading.Lock()
    barrier = threading.Barrier(50)

    def deliver():
        client = Client()
        try:
            barrier.wait()
            for _ in range(20):
                code = post_webhook(client, body).status_code
                with lock:
                    codes.append(code)
        finally:
            connection.close()

    started = time.monotonic()
    threads = [threading.Thread(target=deliver) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    print(f"\n1000 duplicate deliveries from 50 threads in {elapsed:.1f} s "
          f"({1000 / elapsed:.0f}/s); answers: {sorted(set(codes))}")
    assert len(codes) == 1000 and set(codes) == {200}
    assert Payment.objects.filter(status="succeeded").count() == 1
    assert Acceptance.objects.count() == 1
    assert Subscription.objects.count() == 1
    assert IncomingNotification.objects.count() == 1
    assert enqueued.names().count("billing.tasks.receipt_email") == 1
