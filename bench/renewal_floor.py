"""The database's floor for a renewal, against pgbench -N on the same machine (issue 4).

`bench/renewals.py` measures the real renewal path. This script asks a narrower question:
what does PostgreSQL alone spend on the rows one renewal must leave behind — with no
Python, Celery or Redis per row at all — and how does that compare with a pgbench `-N`
transaction? It seeds N due subscriptions as `bench/renewals.py` does, then renews them in
batches written entirely in set-based SQL (one statement per table, three transactions per
batch like the real path: claim, the sandbox ledger, settlement), writing exactly the rows
and updates the real path writes per renewal:

    payment (insert, then update), renewal attempt (insert, then update), subscription
    (update at the claim, update at settlement), term, access grant, receipt (numbered
    from the receipt sequence), sandbox ledger row, 5 events
    (renewal.charge_started, payment.succeeded, term.started, subscription.renewed,
    document.receipt_issued), customers locked at settlement.

It prints the CPU time of all PostgreSQL processes per renewal (utime + stime from /proc,
backends that exited included through the postmaster's children times) and, in the same
run, the CPU time of all PostgreSQL processes plus the pgbench client per pgbench `-N`
transaction. CPU time, not wall time: the figures hold on a machine doing other work.
These renewals are not the portal's (no receipts e-mailed, no access provisioned); the
database is thrown away after.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/soldee_floor SECRET_KEY=bench \
    .venv/bin/python bench/renewal_floor.py --subscriptions 20000
"""

import argparse
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
import cpu  # noqa: E402

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "soldee.settings")

CLAIM = """
WITH due AS (
    SELECT s.id FROM subscriptions_subscription s
    WHERE s.status IN ('active', 'past_due') AND s.auto_renew AND s.next_charge_at <= now()
      AND NOT EXISTS (SELECT 1 FROM subscriptions_renewalattempt a
                      WHERE a.subscription_id = s.id AND a.status IN ('charging', 'unknown'))
    ORDER BY s.next_charge_at LIMIT %(batch)s
    FOR NO KEY UPDATE SKIP LOCKED
), sub AS (
    SELECT s.id, s.customer_id, pm.id AS card_id, pm.card_mask
    FROM subscriptions_subscription s JOIN due ON due.id = s.id
    JOIN billing_paymentmethod pm ON pm.customer_id = s.customer_id AND pm.is_active
), pay AS (
    INSERT INTO billing_payment (public_id, purpose, purpose_ref, description, amount_minor, currency,
        kzt_amount_minor, exchange_rate_source, status, method, idempotency_key, gateway, card_mask,
        pinned_documents, user_agent, failure_code, failure_message, refunded_minor, created_at, updated_at,
        customer_id, payment_method_id)
    SELECT gen_random_uuid(), 'subscription.renewal', sub.id::text, 'Soldee — Start, 30 days (renewal)',
        2990000, 'KZT', 2990000, '', 'processing', 'saved_card', 'renewal:' || sub.id || ':2:1', 'sandbox',
        sub.card_mask, %(pinned)s::jsonb, '', '', '', 0, now(), now(), sub.customer_id, sub.card_id
    FROM sub
    RETURNING id, public_id, customer_id, purpose_ref::bigint AS sub_id, amount_minor, currency
), att AS (
    INSERT INTO subscriptions_renewalattempt (term_number, attempt_no, kind, status, created_at, error,
        payment_id, subscription_id)
    SELECT 2, 1, 'automatic', 'charging', now(), '', pay.id, pay.sub_id FROM pay
), upd AS (
    UPDATE subscriptions_subscription s SET next_charge_at = NULL, updated_at = now()
    FROM due WHERE s.id = due.id
), ev AS (
    INSERT INTO soldee_event (created_at, verb, actor_kind, subject_type, subject_id, data, customer_id)
    SELECT now(), 'renewal.charge_started', 'system', 'subscriptions.subscription', pay.sub_id::text,
        jsonb_build_object('term', 2, 'try', 1, 'amount_minor', pay.amount_minor, 'currency', pay.currency,
                           'payment', pay.public_id::text, 'card', true),
        pay.customer_id
    FROM pay
)
SELECT array_agg(pay.id) FROM pay
"""

LEDGER = """
INSERT INTO billing_sandboxtransaction (id, kind, invoice_id, idempotency_key, amount_minor, currency,
    description, return_url, card_last4, token, status, reason, created_at, decided_at, language)
SELECT gen_random_uuid(), 'token_charge', p.public_id::text, 'charge:' || p.idempotency_key, p.amount_minor,
    p.currency, p.description, '', '4242', pm.token, 'approved', '', now(), now(), ''
FROM billing_payment p JOIN billing_paymentmethod pm ON pm.id = p.payment_method_id
WHERE p.id = ANY(%(ids)s)
"""

LOCK_CUSTOMERS = """
SELECT u.id FROM accounts_user u
WHERE u.id IN (SELECT customer_id FROM billing_payment WHERE id = ANY(%(ids)s))
ORDER BY u.id FOR NO KEY UPDATE
"""

SETTLE = """
WITH pay AS (
    UPDATE billing_payment p SET status = 'succeeded', gateway_ref = gen_random_uuid()::text, paid_at = now(),
        updated_at = now()
    WHERE p.id = ANY(%(ids)s) AND p.status = 'processing'
    RETURNING p.id, p.public_id, p.customer_id, p.purpose_ref::bigint AS sub_id, p.amount_minor, p.currency,
        p.kzt_amount_minor, p.description, p.card_mask, p.paid_at, p.gateway_ref
), att AS (
    UPDATE subscriptions_renewalattempt a SET status = 'succeeded', finished_at = now()
    FROM pay WHERE a.payment_id = pay.id
), sub AS (
    SELECT s.id, s.plan_id, s.status, s.current_period_end, pay.id AS payment_id, pay.paid_at, pay.customer_id,
        pay.public_id, greatest(s.current_period_end, pay.paid_at) AS starts_at,
        row_number() OVER (ORDER BY pay.id) AS n
    FROM subscriptions_subscription s JOIN pay ON pay.sub_id = s.id
), term AS (
    INSERT INTO subscriptions_term (number, starts_at, ends_at, created_at, payment_id, plan_id, subscription_id)
    SELECT 2, sub.starts_at, sub.starts_at + interval '30 days', now(), sub.payment_id, sub.plan_id, sub.id
    FROM sub
    RETURNING id, subscription_id, starts_at, ends_at, payment_id, number
), access AS (
    INSERT INTO subscriptions_accessgrant (status, requested_at, deadline_at, attempts, last_error, platform_ref,
        customer_id, term_id)
    SELECT 'pending', now(), now() + interval '30 minutes', 0, '', '', sub.customer_id, term.id
    FROM term JOIN sub ON sub.id = term.subscription_id
), seq AS (
    UPDATE billing_documentsequence SET last_number = last_number + (SELECT count(*) FROM pay)
    WHERE doc_type = 'receipt' AND year = 2026
    RETURNING last_number - (SELECT count(*) FROM pay) AS first
), doc AS (
    INSERT INTO billing_paymentdocument (doc_type, number, year, seq, amount_minor, currency, source_ref, data,
        language, file, sha256, created_at, customer_id, payment_id, render_attempts, render_error)
    SELECT 'receipt', 'R-2026-' || lpad((seq.first + sub.n)::text, 6, '0'), 2026, seq.first + sub.n,
        pay.amount_minor, pay.currency, '',
        jsonb_build_object('method', 'saved_card', 'paid_at', pay.paid_at, 'customer',
                           jsonb_build_object('email', 'due@example.kz'), 'card_mask', pay.card_mask,
                           'description', pay.description, 'term_ends_at', term.ends_at,
                           'exchange_rate', null, 'term_starts_at', term.starts_at,
                           'kzt_amount_minor', pay.kzt_amount_minor, 'payment_reference', pay.gateway_ref,
                           'exchange_rate_date', null),
        'ru', '', '', now(), pay.customer_id, pay.id, 0, ''
    FROM sub JOIN pay ON pay.id = sub.payment_id JOIN term ON term.payment_id = pay.id CROSS JOIN seq
    RETURNING id, number, payment_id
), subupd AS (
    UPDATE subscriptions_subscription s SET current_period_start = term.starts_at,
        current_period_end = term.ends_at, status = 'active', failed_attempts = 0, first_failed_at = NULL,
        next_charge_at = term.ends_at - interval '24 hours', updated_at = now()
    FROM term WHERE s.id = term.subscription_id
), ev AS (
    INSERT INTO soldee_event (created_at, verb, actor_kind, subject_type, subject_id, data, customer_id)
    SELECT now(), e.verb, e.actor_kind, e.subject_type, e.subject_id, e.data, pay.customer_id
    FROM pay JOIN sub ON sub.payment_id = pay.id JOIN term ON term.payment_id = pay.id
    JOIN doc ON doc.payment_id = pay.id
    CROSS JOIN LATERAL (VALUES
        ('payment.succeeded', 'gateway', 'billing.payment', pay.public_id::text,
         jsonb_build_object('amount_minor', pay.amount_minor, 'currency', pay.currency, 'source', 'renewal',
                            'gateway_ref', pay.gateway_ref)),
        ('term.started', 'system', 'subscriptions.subscription', sub.id::text,
         jsonb_build_object('term', term.number, 'starts_at', term.starts_at, 'ends_at', term.ends_at,
                            'payment', pay.public_id::text)),
        ('subscription.renewed', 'system', 'subscriptions.subscription', sub.id::text,
         jsonb_build_object('term', term.number, 'starts_at', term.starts_at, 'ends_at', term.ends_at,
                            'payment', pay.public_id::text, 'was', sub.status)),
        ('document.receipt_issued', 'system', 'billing.paymentdocument', doc.id::text,
         jsonb_build_object('number', doc.number, 'payment', pay.public_id::text, 'currency', pay.currency,
                            'amount_minor', pay.amount_minor))
    ) AS e(verb, actor_kind, subject_type, subject_id, data)
)
SELECT count(*) FROM pay
"""


def pgbench_cost(db_url: str, seconds: int) -> tuple[float, float, float] | None:
    """(tps, CPU ms of PostgreSQL + pgbench per transaction, wall seconds)"""
    if not shutil.which("pgbench"):
        return None
    from urllib.parse import urlparse

    u = urlparse(db_url)
    base = ["-h", u.hostname or "127.0.0.1", "-p", str(u.port or 5432), "-U", u.username or "postgres"]
    db = u.path.lstrip("/")
    subprocess.run(["pgbench", *base, "-i", "-s", "10", "-q", db], capture_output=True, check=True)
    import psycopg

    with psycopg.connect(db_url, autocommit=True) as conn:
        cpu.wait_autovacuum_idle(lambda: conn.execute(cpu.AUTOVACUUM_RUNNING).fetchone()[0])
    pg0, child0 = cpu.postgres_seconds(), resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    out = subprocess.run(["pgbench", *base, "-N", "-c", "8", "-j", "2", "-T", str(seconds), db],
                         capture_output=True, text=True).stdout
    wall = time.monotonic() - t0
    time.sleep(0.5)  # the backends exit after the client
    pg1, child1 = cpu.postgres_seconds(), resource.getrusage(resource.RUSAGE_CHILDREN)
    client = (child1.ru_utime + child1.ru_stime) - (child0.ru_utime + child0.ru_stime)
    txns = next(int(ln.split(":")[1]) for ln in out.splitlines() if ln.startswith("number of transactions actually"))
    tps = float(next(ln for ln in out.splitlines() if ln.startswith("tps")).split()[2])
    return tps, (pg1 - pg0 + client) * 1000 / txns, wall


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--subscriptions", type=int, default=20000)
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--pgbench-seconds", type=int, default=10)
    ap.add_argument("--one-event", action="store_true",
                    help="what-if: one event per renewal (subscription.renewed) instead of five")
    ap.add_argument("--connections", type=int, default=2, help="sessions renewing at once (SKIP LOCKED)")
    args = ap.parse_args()
    db_url = os.environ.get("DATABASE_URL", "")
    if not db_url.startswith("postgres"):
        print("needs DATABASE_URL=postgres://...", file=sys.stderr)
        return 2
    import django

    django.setup()
    import json

    import psycopg
    from django.core.management import call_command
    from django.db import connection

    from offer import services as offer_services
    from plans.models import Plan
    from subscriptions.testing import seed_due_subscriptions

    call_command("migrate", verbosity=0)
    call_command("seed_demo", "--no-staff", verbosity=0)
    plan = Plan.objects.get(code="start")
    pinned = json.dumps([offer_services.pin(d) for d in offer_services.documents_in_force().values()])
    print(f"seeding {args.subscriptions} due subscriptions ...", flush=True)
    for start in range(0, args.subscriptions, 5000):
        seed_due_subscriptions(n=min(5000, args.subscriptions - start), plan=plan, history=True)
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO billing_documentsequence (doc_type, year, last_number) VALUES ('receipt', 2026, 0) "
                       "ON CONFLICT DO NOTHING")
        cursor.execute("VACUUM ANALYZE")
    connection.close()

    claim, settle = CLAIM, SETTLE
    if args.one_event:  # drop the claim's event and all but subscription.renewed at settlement
        claim = claim[:claim.index("), ev AS (")] + ")\nSELECT array_agg(pay.id) FROM pay\n"
        head, rest = settle.split("CROSS JOIN LATERAL (VALUES", 1)
        keep = rest[rest.index("('subscription.renewed'"):rest.index("('document.receipt_issued'")].rstrip().rstrip(",")
        settle = head + "CROSS JOIN LATERAL (VALUES\n        " + keep + rest[rest.index("\n    ) AS e("):]

    def renew_all(conn) -> int:
        renewed = 0
        while True:
            with conn.transaction():
                ids = conn.execute(claim, {"batch": args.batch, "pinned": pinned}).fetchone()[0]
            if not ids:
                return renewed
            with conn.transaction():
                conn.execute(LEDGER, {"ids": ids})
            with conn.transaction():
                conn.execute(LOCK_CUSTOMERS, {"ids": ids})
                renewed += conn.execute(settle, {"ids": ids}).fetchone()[0]

    from concurrent.futures import ThreadPoolExecutor

    conns = [psycopg.connect(db_url, autocommit=True) for _ in range(args.connections)]
    cpu.wait_autovacuum_idle(lambda: conns[0].execute(cpu.AUTOVACUUM_RUNNING).fetchone()[0])
    for conn in conns:
        conn.autocommit = False
    pg0 = cpu.postgres_seconds()
    t0 = time.monotonic()
    with ThreadPoolExecutor(len(conns)) as pool:  # psycopg releases the GIL while PostgreSQL works
        renewed = sum(pool.map(renew_all, conns))
    wall = time.monotonic() - t0
    for conn in conns:
        conn.close()
    time.sleep(0.5)
    pg_ms = (cpu.postgres_seconds() - pg0) * 1000 / max(renewed, 1)
    print(f"renewed {renewed} in {wall:.1f} s, {args.connections} connections, set-based SQL, "
          f"{'1 event' if args.one_event else '5 events'} per renewal: {renewed / wall:.0f} renewals/s")
    print(f"PostgreSQL CPU per renewal (all processes): {pg_ms:.3f} ms")
    bench = pgbench_cost(db_url, args.pgbench_seconds)
    if bench:
        tps, ms, _wall = bench
        print(f"pgbench -N (8 clients, {args.pgbench_seconds} s): {tps:.0f} tps; CPU per transaction, PostgreSQL + "
              f"client: {ms:.3f} ms")
        cores = os.cpu_count() or 1
        print(f"on {cores} cores at that CPU cost the database alone could renew at most "
              f"{cores * 1000 / pg_ms:.0f}/s; a pgbench transaction costs {ms / pg_ms:.2f}x the PostgreSQL CPU of a renewal")
    return 0


if __name__ == "__main__":
    sys.exit(main())
