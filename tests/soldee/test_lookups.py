"""Long `__in` lists as one array parameter on PostgreSQL (soldee.lookups): same rows as
Django's IN, on SQLite (where Django's lookup runs) and on PostgreSQL (where the array does)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from billing.models import Payment
from soldee.lookups import ARRAY_FROM
from subscriptions.models import Subscription
from subscriptions.testing import seed_due_subscriptions

pytestmark = pytest.mark.django_db

postgres = connection.vendor == "postgresql"


def _sql(run):
    with CaptureQueriesContext(connection) as ctx:
        result = run()
    return result, ctx.captured_queries[-1]["sql"]


def test_long_lists_of_ids_uuids_text_and_foreign_keys_find_the_same_rows(plan):
    ids = seed_due_subscriptions(n=ARRAY_FROM + 10, plan=plan, history=True)
    subs = list(Subscription.objects.filter(pk__in=ids[:5]))
    assert len(subs) == 5
    wanted = ids[3:] + [None, -1, ids[3]]  # NULL never matches, unknown ids neither, duplicates count once
    count, sql = _sql(lambda: Subscription.objects.filter(pk__in=wanted).count())
    assert count == len(ids) - 3
    assert ("= ANY(" in sql) is postgres

    customers = list(Subscription.objects.filter(pk__in=ids).values_list("customer_id", flat=True))
    count, sql = _sql(lambda: Payment.objects.filter(customer__in=customers[:-2]).count())  # a foreign key
    assert count == len(ids) - 2
    assert ("= ANY(" in sql) is postgres
    count, sql = _sql(lambda: Payment.objects.filter(customer_id__in=customers[:-1]).count())
    assert count == len(ids) - 1

    public_ids = list(Payment.objects.filter(customer_id__in=customers).values_list("public_id", flat=True))
    count, sql = _sql(lambda: Payment.objects.filter(public_id__in=public_ids[1:]).count())  # uuid
    assert count == len(ids) - 1
    keys = list(Payment.objects.filter(customer_id__in=customers).values_list("idempotency_key", flat=True))
    texts = keys[2:] + ["it's {not}, \"there\"", "NULL"] * 30  # text looking like array syntax
    count, sql = _sql(lambda: Payment.objects.filter(idempotency_key__in=texts).count())
    assert count == len(ids) - 2
    assert ("= ANY(" in sql) is postgres


def test_short_lists_subqueries_and_empty_lists_keep_djangos_in(plan):
    ids = seed_due_subscriptions(n=5, plan=plan)
    count, sql = _sql(lambda: Subscription.objects.filter(pk__in=ids).count())
    assert count == 5 and " IN (" in sql and "ANY(" not in sql
    inner = Subscription.objects.filter(pk__in=ids[:2]).values("customer_id")
    count, sql = _sql(lambda: Payment.objects.filter(customer_id__in=inner).count() + Subscription.objects.filter(
        customer__in=inner).count())
    assert count == 2
    assert Subscription.objects.filter(pk__in=[None] * (ARRAY_FROM + 1)).count() == 0
    assert Subscription.objects.filter(pk__in=[]).count() == 0
    assert list(Subscription.objects.exclude(pk__in=[None] * (ARRAY_FROM + 1)).filter(pk__in=ids[:1])) != []


def test_a_value_longer_than_the_column_does_not_match_its_prefix(plan):
    """An explicit cast to varchar(n) would cut the value to n characters and match a row
    holding just those: the list goes as text."""
    ids = seed_due_subscriptions(n=1, plan=plan, history=True)
    payment = Payment.objects.get(customer__subscriptions__id=ids[0])
    max_length = Payment._meta.get_field("idempotency_key").max_length
    Payment.objects.filter(pk=payment.pk).update(idempotency_key="k" * max_length)
    longer = ["k" * (max_length + 5)] + [f"other-{i}" for i in range(ARRAY_FROM)]
    assert Payment.objects.filter(idempotency_key__in=longer).count() == 0
    assert Payment.objects.filter(idempotency_key__in=longer + ["k" * max_length]).count() == 1


def test_reverse_relations_and_out_of_range_ids_keep_djangos_in(plan):
    ids = seed_due_subscriptions(n=ARRAY_FROM + 5, plan=plan, history=True)
    terms = list(Subscription.objects.filter(pk__in=ids).values_list("terms__id", flat=True))
    assert Subscription.objects.filter(terms__in=terms).count() == len(ids)  # a reverse foreign key
    payments = list(Payment.objects.filter(term__id__in=terms).values_list("term__id", flat=True))
    assert Payment.objects.filter(term__in=payments).count() == len(ids)  # a reverse one-to-one
    if postgres:  # (SQLite's driver refuses such an int in Django's own IN as well)
        assert Subscription.objects.filter(pk__in=ids + [2**70]).count() == len(ids)  # no error: no match
