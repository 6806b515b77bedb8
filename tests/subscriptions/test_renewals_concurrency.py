"""Renewal sweeps under concurrency (PostgreSQL: SKIP LOCKED, row locks, real threads)."""

import threading
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from billing.models import Payment, SandboxTransaction
from subscriptions import renewals
from subscriptions.models import Subscription, Term
from subscriptions.testing import seed_due_subscriptions

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_eight_concurrent_sweeps_over_500_due_subscriptions_charge_exactly_500(require_postgres, plan, documents, settings):
    settings.RENEWAL_BATCH_SIZE = 50
    settings.RENEWAL_CHARGE_THREADS = 4
    ids = seed_due_subscriptions(n=500, plan=plan)
    barrier = threading.Barrier(8)
    errors = []

    def sweep():
        try:
            barrier.wait()
            renewals.renewals_run()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=sweep) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert SandboxTransaction.objects.filter(kind="token_charge").count() == 500
    assert Payment.objects.filter(purpose="subscription.renewal", status="succeeded").count() == 500
    assert Term.objects.filter(subscription_id__in=ids).count() == 500
    assert not Subscription.objects.filter(pk__in=ids, next_charge_at__lte=timezone.now()).exists()


def test_a_row_locked_by_another_transaction_is_skipped_this_tick_and_renewed_on_the_next(
    require_postgres, plan, documents
):
    locked_id, free_id = seed_due_subscriptions(n=2, plan=plan)
    holding, release = threading.Event(), threading.Event()

    def hold_lock():
        with transaction.atomic():
            Subscription.objects.select_for_update().get(pk=locked_id)
            holding.set()
            release.wait(30)
        connection.close()

    holder = threading.Thread(target=hold_lock)
    holder.start()
    holding.wait(10)
    try:
        assert renewals.renewals_run() == {"succeeded": 1}
        assert Term.objects.filter(subscription_id=free_id).count() == 1
        assert Term.objects.filter(subscription_id=locked_id).count() == 0
    finally:
        release.set()
        holder.join()
    assert renewals.renewals_run() == {"succeeded": 1}
    assert Term.objects.filter(subscription_id=locked_id).count() == 1
    assert SandboxTransaction.objects.filter(kind="token_charge").count() == 2


def test_nothing_holds_a_transaction_across_the_gateway_call(require_postgres, plan, documents, monkeypatch, settings):
    from billing.gateways.sandbox import SandboxGateway

    seed_due_subscriptions(n=3, plan=plan)
    seen = []
    batch, one = SandboxGateway.charge_tokens, SandboxGateway.charge_token

    def spy_batch(self, charges, **kw):
        seen.append(("batch", len(charges), connection.in_atomic_block))
        return batch(self, charges, **kw)

    def spy_one(self, request, *, token):
        seen.append(("one", 1, connection.in_atomic_block))
        return one(self, request, token=token)

    monkeypatch.setattr(SandboxGateway, "charge_tokens", spy_batch)
    monkeypatch.setattr(SandboxGateway, "charge_token", spy_one)
    renewals.renewals_run(now=timezone.now() + timedelta(seconds=1))
    assert seen == [("batch", 3, False)]  # the instant sandbox decides the batch at once

    # A gateway with latency answers call by call, in pool threads: none inside a transaction.
    settings.SANDBOX_LATENCY_MS = 1
    seen.clear()
    seed_due_subscriptions(n=3, plan=plan)
    renewals.renewals_run(now=timezone.now() + timedelta(seconds=1))
    assert sorted(seen) == [("batch", 3, False)] + [("one", 1, False)] * 3
