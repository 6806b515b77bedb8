"""Redis restarted in the middle of a renewal batch: after the next sweeps no renewal is
lost or doubled. Uses a private Redis on its own port (the shared one is left alone)."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

from billing.models import SandboxTransaction
from subscriptions import renewals
from subscriptions.models import AccessGrant, Term
from subscriptions.testing import seed_due_subscriptions

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
PORT = 6391


def _start_redis():
    proc = subprocess.Popen([shutil.which("redis-server"), "--port", str(PORT), "--bind", "127.0.0.1",
                             "--save", "", "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(50):
        try:
            socket.create_connection(("127.0.0.1", PORT), timeout=0.2).close()
            return proc
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("private redis did not start")


def _wait(predicate, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def test_a_redis_restart_mid_batch_loses_and_doubles_no_renewal(require_postgres, require_redis, plan, documents):
    if not shutil.which("redis-server"):
        pytest.fail("redis-server is needed")
    broker = f"redis://127.0.0.1:{PORT}/0"
    s = connection.settings_dict
    env = {**os.environ, "CELERY_BROKER_URL": broker, "SANDBOX_LATENCY_MS": "150", "RENEWAL_CHARGE_THREADS": "2",
           "RENEWAL_BATCH_SIZE": "5", "SECRET_KEY": os.environ.get("SECRET_KEY", "test"),
           "DATABASE_URL": f"postgres://{s['USER'] or 'postgres'}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"}
    ids = seed_due_subscriptions(n=40, plan=plan)
    redis = _start_redis()
    worker = subprocess.Popen([sys.executable, "-m", "celery", "-A", "soldee", "worker", "--pool=threads",
                               "--concurrency=4", "--loglevel=WARNING"], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    call = [sys.executable, "-m", "celery", "-A", "soldee", "call", "subscriptions.tasks.renewal_sweep"]
    try:
        subprocess.run(call, cwd=ROOT, env=env, check=True, capture_output=True, timeout=60)
        assert _wait(lambda: Term.objects.filter(subscription_id__in=ids).count() >= 5, 60), "no renewal started"
        redis.send_signal(signal.SIGKILL)  # the broker dies mid-batch, queued messages with it
        redis.wait(timeout=10)
        time.sleep(1)
        redis = _start_redis()  # back, empty
        # the next beat ticks
        subprocess.run(call, cwd=ROOT, env=env, check=True, capture_output=True, timeout=60)
        _wait(lambda: Term.objects.filter(subscription_id__in=ids).count() == 40, 120)
        subprocess.run(call, cwd=ROOT, env=env, check=True, capture_output=True, timeout=60)
        time.sleep(3)
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
        redis.send_signal(signal.SIGKILL)
        redis.wait(timeout=10)
    # anything left in flight is resolved by reconciliation, as the beat would do
    from django.conf import settings

    settings.RENEWAL_RECONCILE_AFTER_MINUTES = 0
    renewals.renewals_reconcile()
    renewals.renewals_run()
    terms = Term.objects.filter(subscription_id__in=ids).count()
    charges = SandboxTransaction.objects.filter(kind="token_charge").count()
    print(f"\nRedis killed and restarted mid-batch: {terms} renewals for 40 due subscriptions, {charges} charges")
    assert terms == 40 and charges == 40
    assert AccessGrant.objects.filter(term__subscription_id__in=ids).count() == 40
