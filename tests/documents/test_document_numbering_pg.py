"""Gapless numbering under concurrency (PostgreSQL: select_for_update is real there)."""

import threading

import pytest
from django.db import connection, transaction

from billing import documents as billing_documents
from billing.models import DocumentSequence, PaymentDocument
from subscriptions.services import checkout_start
from tests.factories import ProfileFactory

from .conftest import settle

THREADS = 8


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_payments_get_gapless_unique_receipt_numbers(require_postgres, plan, documents):
    payments = []
    for i in range(THREADS):
        customer = ProfileFactory().user
        payments.append(settle(checkout_start(customer=customer, plan=plan,
                                              document_ids=[d.pk for d in documents.values()],
                                              token=f"pg-{i}", client_ip=None, user_agent="")))
    # Start from nothing: whatever the settle path issued is removed, the race is below.
    PaymentDocument.objects.all().delete()
    DocumentSequence.objects.all().delete()
    barrier = threading.Barrier(THREADS)
    errors = []

    def worker(index, payment):
        try:
            barrier.wait()
            if index % 3 == 2:  # every third transaction takes a number and then rolls back
                try:
                    with transaction.atomic():
                        billing_documents.receipt_create(payment=payment)
                        raise RuntimeError("rolled back after taking a number")
                except RuntimeError:
                    pass
            with transaction.atomic():
                billing_documents.receipt_create(payment=payment)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i, p)) for i, p in enumerate(payments)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    seqs = sorted(PaymentDocument.objects.filter(doc_type="receipt").values_list("seq", flat=True))
    assert seqs == list(range(1, THREADS + 1))  # no gaps, no duplicates
    assert DocumentSequence.objects.get(doc_type="receipt").last_number == THREADS
    assert PaymentDocument.objects.values("payment").distinct().count() == THREADS
