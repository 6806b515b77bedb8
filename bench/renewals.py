"""Renewal throughput through real Celery workers on Redis, PostgreSQL (issue 4).

Seeds N due subscriptions, sends W `renewal_sweep` tasks to a `celery worker`
subprocess (they claim batches with SKIP LOCKED and charge the sandbox gateway in a
thread pool), waits until every subscription is renewed, and prints renewals/s, SQL
queries per renewal (measured in-process on a sample), the worker's peak memory and, in
the same run, `pgbench -N` tps on the same database.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/soldee_bench \
    CELERY_BROKER_URL=redis://127.0.0.1:6379/13 SECRET_KEY=bench \
    .venv/bin/python bench/renewals.py --subscriptions 20000 --latency-ms 0
    ... --latency-ms 200
"""

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUEUE = "bench-renewals"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
import cpu  # noqa: E402

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "soldee.settings")


def peak_rss_mb(pid: int) -> float:
    total = 0
    for p in [pid, *_children(pid)]:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def _children(pid: int) -> list[int]:
    try:
        out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
        return [int(x) for x in out.split()]
    except OSError:
        return []


def pgbench_tps(db_url: str, clients: tuple[int, ...] = (8,), seconds: int = 10) -> list[tuple[int, str]]:
    """pgbench -N tps on the same database, once per client count: (clients, its tps line)."""
    if not shutil.which("pgbench"):
        return []
    from urllib.parse import urlparse

    u = urlparse(db_url)
    base = ["-h", u.hostname or "127.0.0.1", "-p", str(u.port or 5432), "-U", u.username or "postgres"]
    db = u.path.lstrip("/")
    subprocess.run(["pgbench", *base, "-i", "-s", "10", "-q", db], capture_output=True, check=True)
    lines = []
    for n in clients:
        out = subprocess.run(["pgbench", *base, "-N", "-c", str(n), "-j", str(min(n, 2)), "-T", str(seconds), db],
                             capture_output=True, text=True).stdout
        lines.append((n, next((ln for ln in out.splitlines() if ln.startswith("tps")), "")))
    return lines


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--subscriptions", type=int, default=20000)
    ap.add_argument("--latency-ms", type=int, default=0)
    ap.add_argument("--workers", type=int, default=2, help="worker processes (prefork)")
    ap.add_argument("--sweeps", type=int, default=4, help="renewal_sweep tasks sent at once")
    ap.add_argument("--threads", type=int, default=32, help="gateway calls in flight per sweep")
    ap.add_argument("--batch", type=int, default=200)
    args = ap.parse_args()
    db_url = os.environ.get("DATABASE_URL", "")
    if not db_url.startswith("postgres") or not os.environ.get("CELERY_BROKER_URL", "").startswith("redis"):
        print("needs DATABASE_URL=postgres://... and CELERY_BROKER_URL=redis://...", file=sys.stderr)
        return 2
    os.environ["SANDBOX_LATENCY_MS"] = str(args.latency_ms)
    os.environ["RENEWAL_CHARGE_THREADS"] = str(args.threads)
    os.environ["RENEWAL_BATCH_SIZE"] = str(args.batch)
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    call_command("migrate", verbosity=0)
    call_command("seed_demo", "--no-staff", verbosity=0)
    from plans.models import Plan
    from subscriptions import renewals
    from subscriptions.models import Subscription
    from subscriptions.tasks import renewal_sweep
    from subscriptions.testing import seed_due_subscriptions

    plan = Plan.objects.get(code="start")
    # queries per renewal, measured in-process on a small sample
    sample = seed_due_subscriptions(n=args.batch, plan=plan, history=True)
    from django.conf import settings as dj_settings

    dj_settings.RENEWAL_CHARGE_THREADS = 1  # in this thread, so every query is counted
    with CaptureQueriesContext(connection) as ctx:
        renewals.renewals_run()
    dj_settings.RENEWAL_CHARGE_THREADS = args.threads
    # The sandbox gateway keeps its ledger in the same database (a real gateway's are remote).
    gateway_queries = sum("billing_sandboxtransaction" in q["sql"] for q in ctx.captured_queries)
    queries_per_renewal = (len(ctx.captured_queries) - gateway_queries) / len(sample)
    gateway_per_renewal = gateway_queries / len(sample)
    print(f"seeding {args.subscriptions} due subscriptions ...", flush=True)
    ids = []
    for start in range(0, args.subscriptions, 5000):
        ids += seed_due_subscriptions(n=min(5000, args.subscriptions - start), plan=plan, history=True)
    with connection.cursor() as cursor:
        # Table statistics, as autovacuum keeps them on a live database: these 20,000 rows were
        # written a second ago, and a planner that still believes a handful are due sorts them
        # all at every claim instead of reading the next batch off the next_charge_at index.
        cursor.execute("VACUUM ANALYZE")
    connection.close()
    # The sweeps run on a queue of their own, as they would on a dedicated renewal worker;
    # what each batch hands on (access provisioning, receipt e-mails, receipt PDFs — one
    # message per batch each) waits on the default queue and is counted below, not run.
    from soldee.celery import app as celery_app

    with celery_app.connection_for_write() as conn:
        conn.default_channel.queue_purge("celery")
        conn.default_channel.queue_purge(QUEUE)
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "soldee", "worker", "--pool=prefork", "-Q", QUEUE,
         f"--concurrency={args.workers}", "--loglevel=WARNING"], cwd=ROOT, env=os.environ.copy())
    try:
        time.sleep(4)
        with connection.cursor() as cursor:
            def autovacuum_running():
                cursor.execute(cpu.AUTOVACUUM_RUNNING)
                return cursor.fetchone()[0]
            cpu.wait_autovacuum_idle(autovacuum_running)
        connection.close()
        cpu0 = (cpu.postgres_seconds(), cpu.tree_seconds(worker.pid), cpu.redis_seconds())
        t0 = time.monotonic()
        for _ in range(args.sweeps):
            renewal_sweep.apply_async(queue=QUEUE)
        while True:
            # (no 20,000-id IN list: the poll must not compete with the workers for the CPU)
            left = Subscription.objects.filter(pk__gte=ids[0], pk__lte=ids[-1],
                                               next_charge_at__lte=django.utils.timezone.now()).count()
            if left == 0:
                break
            time.sleep(1)
        # wait for in-flight attempts to finish
        from subscriptions.models import RenewalAttempt

        while RenewalAttempt.objects.filter(subscription_id__gte=ids[0], subscription_id__lte=ids[-1],
                                            status="charging").exists():
            time.sleep(0.2)
        elapsed = time.monotonic() - t0
        cpu1 = (cpu.postgres_seconds(), cpu.tree_seconds(worker.pid), cpu.redis_seconds())
        peak = peak_rss_mb(worker.pid)
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    done = RenewalAttempt.objects.filter(subscription_id__gte=ids[0], subscription_id__lte=ids[-1],
                                         status="succeeded").count()
    print(f"gateway latency: {args.latency_ms} ms; workers {args.workers} x sweeps {args.sweeps} x threads {args.threads}")
    print(f"renewed: {done}/{len(ids)} in {elapsed:.1f} s -> {done / elapsed:.0f} renewals/s")
    print(f"SQL queries per renewal: {queries_per_renewal:.2f}, i.e. {queries_per_renewal * len(sample):.0f} per "
          f"batch of {len(sample)} (+ {gateway_per_renewal * len(sample):.0f} per batch by the sandbox gateway on its "
          f"own ledger)")
    with celery_app.connection_for_write() as conn:
        handed_on = conn.default_channel.client.llen("celery")
        conn.default_channel.queue_purge("celery")
    print(f"follow-up messages handed on to the default queue: {handed_on} "
          f"(access, receipt e-mails, receipt PDFs; one each per batch)")
    pg_ms, py_ms, redis_ms = ((b - a) * 1000 / max(done, 1) for a, b in zip(cpu0, cpu1, strict=True))
    print(f"CPU per renewal: PostgreSQL {pg_ms:.3f} ms, the worker processes (Python) {py_ms:.3f} ms, "
          f"Redis {redis_ms:.3f} ms (the poll of this script's own connection included in PostgreSQL's)")
    print(f"worker peak memory (RSS high-water, all processes): {peak:.0f} MB")
    # 8 clients: pgbench's best on this machine, the figure the target is read against; 1 client
    # (pgbench's default) and as many as the worker has processes, for the record.
    for clients, line in pgbench_tps(db_url, clients=(8, args.workers, 1)):
        print(f"pgbench -N (same database, {clients} client{'s' if clients > 1 else ''}, 10 s): {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
