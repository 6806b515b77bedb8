"""Two beat processes running at once (a deployment mistake) never charge twice:
the sweeps they both fire claim with SKIP LOCKED and fixed keys (PostgreSQL + Redis)."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

from billing.models import SandboxTransaction
from subscriptions.models import RenewalAttempt, Term
from subscriptions.testing import seed_due_subscriptions

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]


def test_two_beats_for_a_while_charge_each_due_subscription_once(require_postgres, require_redis, plan, documents,
                                                                 tmp_path):
    s = connection.settings_dict
    env = {**os.environ, "RENEWAL_SWEEP_SECONDS": "1", "SECRET_KEY": os.environ.get("SECRET_KEY", "test"),
           "DATABASE_URL": f"postgres://{s['USER'] or 'postgres'}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"}
    ids = seed_due_subscriptions(n=30, plan=plan)
    procs = [subprocess.Popen([sys.executable, "-m", "celery", "-A", "soldee", "worker", "--pool=threads",
                               "--concurrency=4", "--loglevel=WARNING"], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    for i in range(2):
        procs.append(subprocess.Popen([sys.executable, "-m", "celery", "-A", "soldee", "beat", "--loglevel=WARNING",
                                       f"--schedule={tmp_path / f'beat{i}'}"], cwd=ROOT, env=env,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if Term.objects.filter(subscription_id__in=ids).count() == 30:
                break
            time.sleep(0.5)
        time.sleep(5)  # both beats keep firing sweeps for a while longer
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
    charges = SandboxTransaction.objects.filter(kind="token_charge").count()
    print(f"\ntwo beats, 30 due subscriptions: {charges} charges, "
          f"{RenewalAttempt.objects.count()} attempts, {Term.objects.filter(subscription_id__in=ids).count()} terms")
    assert Term.objects.filter(subscription_id__in=ids).count() == 30
    assert charges == 30
    assert RenewalAttempt.objects.count() == 30
