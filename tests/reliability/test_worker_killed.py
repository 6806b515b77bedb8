"""A worker SIGKILLed between the gateway's charge and our commit, three times in a row:
after the reconciliation sweep there is exactly one charge per idempotency key
(PostgreSQL + Redis + a real `celery worker` process)."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

from billing.models import Payment, SandboxTransaction
from subscriptions import renewals
from subscriptions.models import RenewalAttempt, Term
from subscriptions.testing import seed_due_subscriptions

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]


def _db_url():
    s = connection.settings_dict
    return f"postgres://{s['USER'] or 'postgres'}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def _wait(predicate, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_a_worker_killed_after_the_charge_leaves_one_charge_per_key_after_reconciliation(
    require_postgres, require_redis, plan, documents, settings
):
    settings.RENEWAL_RECONCILE_AFTER_MINUTES = 0
    env = {**os.environ, "DATABASE_URL": _db_url(), "SANDBOX_LATENCY_AFTER_CHARGE_MS": "30000",
           "RENEWAL_CHARGE_THREADS": "1", "SECRET_KEY": os.environ.get("SECRET_KEY", "test")}
    kills = 0
    for round_no in range(3):
        (sub_id,) = seed_due_subscriptions(n=1, plan=plan, prefix=f"kill{round_no}")
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "soldee", "worker", "--pool=solo", "--loglevel=WARNING",
             "--without-heartbeat", "--without-mingle", "--without-gossip"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            from subscriptions.tasks import renewal_sweep

            renewal_sweep.delay()
            charged = _wait(lambda sid=sub_id: SandboxTransaction.objects.filter(
                kind="token_charge", idempotency_key__startswith=f"charge:renewal:{sid}:").exists())
            assert charged, "the worker never reached the gateway"
        finally:
            worker.send_signal(signal.SIGKILL)
            worker.wait(timeout=10)
            kills += 1
        attempt = RenewalAttempt.objects.get(subscription_id=sub_id)
        assert attempt.payment.status == Payment.Status.PROCESSING  # died before our commit
        settings.SANDBOX_LATENCY_AFTER_CHARGE_MS = 0
        renewals.renewals_reconcile()
        renewals.renewals_reconcile()  # twice: still one charge
        attempt.payment.refresh_from_db()
        assert attempt.payment.status == Payment.Status.SUCCEEDED
        assert SandboxTransaction.objects.filter(
            kind="token_charge", idempotency_key=f"charge:{attempt.payment.idempotency_key}").count() == 1
        assert Term.objects.filter(subscription_id=sub_id).count() == 1
    print(f"\nworker SIGKILLed {kills} times between charge and commit: "
          f"{SandboxTransaction.objects.filter(kind='token_charge').count()} charges for 3 renewals")
    assert SandboxTransaction.objects.filter(kind="token_charge").count() == 3
