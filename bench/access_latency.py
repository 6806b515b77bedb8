"""Paid → access granted latency through a real Celery worker (issue 3).

Needs PostgreSQL and Redis. Creates N customers who pay (sandbox charge results applied
through billing.services.payment_settle, exactly as a notification would), while a real
`celery worker` subprocess consumes the access-grant tasks; prints p50/p99 of
(granted_at - paid_at).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/soldee_bench \
    CELERY_BROKER_URL=redis://127.0.0.1:6379/13 SECRET_KEY=bench \
    .venv/bin/python bench/access_latency.py --payments 200
"""

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "soldee.settings")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--payments", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgres") or not os.environ.get(
        "CELERY_BROKER_URL", ""
    ).startswith("redis"):
        print("needs DATABASE_URL=postgres://... and CELERY_BROKER_URL=redis://...", file=sys.stderr)
        return 2
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("seed_demo", "--no-staff", verbosity=0)
    from django.contrib.auth import get_user_model

    from accounts.models import CustomerProfile
    from billing.gateways import ChargeResult, ChargeStatus
    from billing.services import payment_settle
    from offer.services import documents_in_force
    from plans.models import Plan
    from subscriptions.models import AccessGrant
    from subscriptions.services import checkout_start

    plan = Plan.objects.get(code="start")
    doc_ids = [d.pk for d in documents_in_force().values()]
    run = int(time.time())
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "soldee", "worker", "--pool=threads",
         f"--concurrency={args.concurrency}", "--loglevel=WARNING", "-Q", "celery"],
        cwd=ROOT, env=os.environ.copy(),
    )
    try:
        time.sleep(3)
        grant_ids = []
        for i in range(args.payments):
            user = get_user_model().objects.create_user(email=f"bench{run}-{i}@example.kz", password=None)
            CustomerProfile.objects.create(user=user, kind="individual", name=f"Bench {i}", iin_bin="900101300017",
                                           address="Almaty", phone="+7 700 000 00 00")
            payment = checkout_start(customer=user, plan=plan, document_ids=doc_ids, token=f"b{i}",
                                     client_ip=None, user_agent="bench")
            payment_settle(public_id=payment.public_id, source="bench", charge=ChargeResult(
                status=ChargeStatus.APPROVED, amount_minor=payment.amount_minor, currency="KZT"))
            grant_ids.append(AccessGrant.objects.get(term__payment=payment).pk)
        deadline = time.time() + 120
        while time.time() < deadline:
            if not AccessGrant.objects.filter(pk__in=grant_ids, status="pending").exists():
                break
            time.sleep(0.2)
        grants = list(AccessGrant.objects.filter(pk__in=grant_ids, status="granted"))
        latencies = sorted((g.granted_at - g.requested_at).total_seconds() * 1000 for g in grants)
    finally:
        worker.terminate()
        worker.wait(timeout=20)
    if not latencies:
        print("no grants completed")
        return 1
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    print(f"payments: {args.payments}, granted: {len(latencies)}")
    print(f"paid -> access granted: p50 {statistics.median(latencies):.0f} ms, p99 {p99:.0f} ms, "
          f"max {latencies[-1]:.0f} ms (offer promise: 1 800 000 ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
