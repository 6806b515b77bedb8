"""The contract kept in the background: the 30-minute access deadline (clause 5.2), the daily
NBK rates (6.2), renewals, their retries and lapse (6.4), refunds executed (7), critical-error
deadlines (7), agreement copies rendered (5.4), receipts, refund notes and invoices rendered,
exports expired (personal data) all run from beat. Every entry must name a task the worker
knows, with arguments it takes, and none of the contract's sweeps may be missing: a renamed
task or a dropped entry fails no other test while the portal quietly stops keeping its
promises. (Found by the contract-map audit.)"""

import importlib
import inspect

from celery.schedules import crontab
from django.conf import settings

from soldee.celery import app

# task -> the clause it keeps
CONTRACT_SWEEPS = {
    "subscriptions.tasks.access_grant_sweep": "5.2: provisioning retried",
    "subscriptions.tasks.access_deadline_sweep": "5.2: a missed 30-minute deadline flagged",
    "billing.rate_tasks.nbk_rates_import": "6.2: daily NBK rates",
    "subscriptions.tasks.renewal_sweep": "6.4: renewal charged",
    "subscriptions.tasks.renewal_reconcile": "6.4: unknown renewal outcomes resolved",
    "subscriptions.tasks.renewal_reminder_sweep": "6.4: renewal reminder e-mailed",
    "subscriptions.tasks.subscription_expiry_sweep": "6.4, 6.5: terms end, lapse",
    "refunds.tasks.refund_sweep": "7: approved refunds executed",
    "refunds.tasks.error_deadline_sweep": "7: critical-error deadlines",
    "refunds.tasks.unapplied_payments_sweep": "7: payments that bought nothing returned",
    "offer.tasks.agreement_copy_sweep": "5.4: agreement copies rendered",
    "billing.document_tasks.document_render_sweep": "receipts, refund notes and invoices rendered",
    "accounts.tasks.data_export_sweep": "personal data: exports built and expired",
}


def test_every_beat_entry_names_a_task_the_worker_knows_with_arguments_it_takes():
    for name, entry in settings.CELERY_BEAT_SCHEDULE.items():
        importlib.import_module(
            entry["task"].rpartition(".")[0]
        )  # as the worker's autodiscovery does
        task = app.tasks.get(entry["task"])
        assert task is not None, f"beat entry {name!r}: no task {entry['task']!r}"
        inspect.signature(task.run).bind(*entry.get("args", ()), **entry.get("kwargs", {}))


def test_every_sweep_the_contract_needs_is_scheduled():
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    missing = {task: why for task, why in CONTRACT_SWEEPS.items() if task not in scheduled}
    assert not missing, f"not scheduled: {missing}"


def test_the_nbk_rates_are_imported_every_day_and_the_access_deadline_checked_every_few_minutes():
    entries = list(settings.CELERY_BEAT_SCHEDULE.values())
    imports = [
        e["schedule"]
        for e in entries
        if e["task"] == "billing.rate_tasks.nbk_rates_import"
        and not e.get("kwargs", {}).get("ahead_days")
    ]
    assert imports and all(
        isinstance(s, crontab)
        and s.day_of_week == set(range(7))
        and s.day_of_month == set(range(1, 32))
        for s in imports
    ), "today's NBK rates must be imported every day"
    deadline = [
        e["schedule"] for e in entries if e["task"] == "subscriptions.tasks.access_deadline_sweep"
    ]
    # A missed 30-minute deadline is flagged to staff within minutes, not hours.
    assert deadline and all(float(s) <= 300 for s in deadline)
