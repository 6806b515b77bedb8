"""soldee.bulk: one-statement updates and conflict-ignoring inserts on SQLite and PostgreSQL."""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from billing.models import SandboxTransaction
from soldee.bulk import row_insert_new, rows_update
from subscriptions.models import Subscription
from subscriptions.testing import seed_due_subscriptions

pytestmark = pytest.mark.django_db


def test_rows_update_writes_each_rows_own_values_and_only_the_named_fields(plan):
    ids = seed_due_subscriptions(n=3, plan=plan)
    subs = list(Subscription.objects.filter(pk__in=ids).order_by("pk"))
    before = {s.pk: (s.updated_at, s.auto_renew) for s in subs}
    base = timezone.now().replace(microsecond=0)
    for i, sub in enumerate(subs):
        sub.current_period_end = base + timedelta(days=i + 1)
        sub.next_charge_at = None if i == 1 else base + timedelta(hours=i)
        sub.status = "past_due" if i == 2 else "active"
        sub.auto_renew = False  # not in the field list: must not be written
    assert rows_update(subs, ["current_period_end", "next_charge_at", "status", "updated_at"]) == 3
    for i, sub in enumerate(Subscription.objects.filter(pk__in=ids).order_by("pk")):
        assert sub.current_period_end == base + timedelta(days=i + 1)
        assert sub.next_charge_at == (None if i == 1 else base + timedelta(hours=i))
        assert sub.status == ("past_due" if i == 2 else "active")
        assert sub.auto_renew is before[sub.pk][1] is True
        assert sub.updated_at > before[sub.pk][0]  # auto_now, as save() would
    assert rows_update([], ["status"]) == 0


def _txn(key):
    return SandboxTransaction(id=uuid.uuid4(), kind="token_charge", idempotency_key=key, invoice_id="inv",
                              amount_minor=100, currency="KZT", status="approved")


def test_row_insert_new_inserts_once_per_unique_key():
    first = _txn("charge:k1")
    assert row_insert_new(first, unique_field="idempotency_key") is True
    assert row_insert_new(_txn("charge:k1"), unique_field="idempotency_key") is False
    stored = SandboxTransaction.objects.get(idempotency_key="charge:k1")
    assert stored.pk == first.pk and stored.created_at is not None
    assert SandboxTransaction.objects.filter(idempotency_key="charge:k1").count() == 1
