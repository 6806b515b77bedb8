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


def _payment(customer, key, **extra):
    from decimal import Decimal

    from billing.models import Payment

    return Payment(customer=customer, purpose="subscription.renewal", purpose_ref="7", description="Soldee — Старт, 30 days\t(renewal)\\n",
                   amount_minor=1234, currency="USD", kzt_amount_minor=617_000, exchange_rate=Decimal("500.1234"),
                   exchange_rate_date=timezone.localdate(), exchange_rate_source="nbk", idempotency_key=key,
                   status=Payment.Status.PROCESSING, method=Payment.Method.SAVED_CARD,
                   pinned_documents=[{"kind": "offer", "id": 3, "label": "v2 «кавычки»", "sha": None}], **extra)


def _row(payment):
    from billing.models import Payment

    fields = [f.attname for f in Payment._meta.concrete_fields if f.attname not in ("id", "public_id")]
    return {name: getattr(payment, name) for name in fields if name not in ("created_at", "updated_at")}


def test_copy_bulk_create_writes_exactly_what_bulk_create_writes(require_postgres, customer):
    """PostgreSQL: Payment.objects.bulk_create of 2+ rows goes by COPY (soldee.bulk.rows_copy)
    — same stored values, pks and timestamps set, the instances marked saved."""
    from django.db import connection
    from django.db.models import QuerySet
    from django.test.utils import CaptureQueriesContext

    from billing.models import Payment

    by_copy = Payment.objects.bulk_create([_payment(customer, "copy-1"), _payment(customer, "copy-2", card_mask="")])
    by_insert = QuerySet.bulk_create(Payment.objects.all(), [_payment(customer, "ins-1")])  # Django's own
    assert all(p.pk and not p._state.adding and p.created_at for p in by_copy)
    assert by_copy[0].pk != by_copy[1].pk
    stored = {p.idempotency_key: p for p in Payment.objects.filter(pk__in=[p.pk for p in by_copy + by_insert])}
    assert _row(stored["copy-1"]) | {"idempotency_key": "x"} == _row(stored["ins-1"]) | {"idempotency_key": "x"}
    assert stored["copy-1"].public_id == by_copy[0].public_id
    assert stored["copy-1"].pinned_documents == [{"kind": "offer", "id": 3, "label": "v2 «кавычки»", "sha": None}]
    assert stored["copy-2"].created_at == by_copy[1].created_at  # the instance holds what was stored
    with CaptureQueriesContext(connection) as ctx:
        Payment.objects.bulk_create([_payment(customer, "copy-3"), _payment(customer, "copy-4")])
    assert any(q["sql"].startswith("COPY ") for q in ctx.captured_queries)  # counted like any query


def test_copy_bulk_create_raises_djangos_integrity_error_and_writes_nothing(require_postgres, customer):
    from django.db import IntegrityError, transaction

    from billing.models import Payment

    Payment.objects.bulk_create([_payment(customer, "dup-1"), _payment(customer, "dup-2")])
    rows = [_payment(customer, "dup-3"), _payment(customer, "dup-1")]
    with pytest.raises(IntegrityError), transaction.atomic():
        Payment.objects.bulk_create(rows)
    assert not Payment.objects.filter(idempotency_key="dup-3").exists()
    assert [p.pk for p in rows] == [None, None]  # as bulk_create leaves them


AWKWARD = ['a,b "q" {x} \\ \' ;', "NULL", "", "Ключ «ёлка»\tтаб", "}{"]


def test_rows_update_carries_awkward_text_nulls_and_foreign_keys(customer):
    """On PostgreSQL these columns go as one array each (`unnest`): text that looks like
    array syntax, the word NULL, empty strings and real NULLs must arrive as they were."""
    from billing.models import Payment

    payments = Payment.objects.bulk_create([_payment(customer, f"k-arr-{i}") for i in range(len(AWKWARD))])
    card = customer.payment_methods.create(gateway="sandbox", token="tok-arr", card_mask="•••• 1111")
    for i, (payment, text) in enumerate(zip(payments, AWKWARD, strict=True)):
        payment.failure_message = text
        payment.gateway_ref = None if i % 2 else f"ref-{i}"
        payment.payment_method = card if i % 2 else None
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        assert rows_update(payments, ["failure_message", "gateway_ref", "payment_method"]) == len(AWKWARD)
    assert ("unnest(" in ctx.captured_queries[-1]["sql"]) is (connection.vendor == "postgresql")
    stored = {p.pk: p for p in Payment.objects.filter(pk__in=[p.pk for p in payments])}
    for i, payment in enumerate(payments):
        row = stored[payment.pk]
        assert row.failure_message == AWKWARD[i]
        assert row.gateway_ref == (None if i % 2 else f"ref-{i}")
        assert row.payment_method_id == (card.pk if i % 2 else None)


def test_rows_update_of_a_json_column_takes_the_values_path(customer):
    from billing.models import Payment

    payments = Payment.objects.bulk_create([_payment(customer, f"k-json-{i}") for i in range(3)])
    for i, payment in enumerate(payments):
        payment.pinned_documents = [{"kind": "offer", "id": i, "label": AWKWARD[i]}]
        payment.failure_message = AWKWARD[i]
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        assert rows_update(payments, ["pinned_documents", "failure_message"]) == 3
    assert "unnest(" not in ctx.captured_queries[-1]["sql"]
    for i, row in enumerate(Payment.objects.filter(pk__in=[p.pk for p in payments]).order_by("pk")):
        assert row.pinned_documents == [{"kind": "offer", "id": i, "label": AWKWARD[i]}]
        assert row.failure_message == AWKWARD[i]


def test_rows_update_refuses_a_value_too_long_for_its_column_on_postgresql(customer):
    """Never cut silently: a too-long text is an error, as with save()."""
    from django.db import DataError, connection, transaction

    from billing.models import Payment

    if connection.vendor != "postgresql":
        pytest.skip("SQLite does not enforce varchar lengths")
    payment = Payment.objects.bulk_create([_payment(customer, "k-long")])[0]
    payment.card_mask = "x" * (Payment._meta.get_field("card_mask").max_length + 1)
    with pytest.raises(DataError), transaction.atomic():
        rows_update([payment], ["card_mask"])
    payment.pinned_documents = []  # the VALUES path (a JSON column) refuses it too
    with pytest.raises(DataError), transaction.atomic():
        rows_update([payment], ["card_mask", "pinned_documents"])
    assert Payment.objects.get(pk=payment.pk).card_mask == ""


def test_db_value_prepares_every_value_as_get_db_prep_save_does(require_postgres):
    """soldee.bulk.db_value (the COPY and unnest paths) passes a value of the exact type a
    column stores unchanged and hands anything else to Django: the result is the same."""
    import datetime
    import warnings
    from decimal import Decimal

    from django.db import connection

    from billing.models import Payment, PaymentDocument
    from soldee.bulk import db_value
    from soldee.models import Event
    from subscriptions.models import AccessGrant, RenewalAttempt, Term

    aware = timezone.now()
    naive = datetime.datetime(2026, 11, 29, 12, 30)
    samples = [None, 0, 7, -3, True, False, "12", "", "text «ё»", aware, naive, aware.date(), uuid.uuid4(),
               Decimal("1.50"), 2**40, {"a": [1, None]}]
    checked = 0
    for model in (Payment, PaymentDocument, Event, AccessGrant, RenewalAttempt, Term):
        for field in model._meta.concrete_fields:
            prep = db_value(field, connection)
            for value in samples:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)  # Django warns of the naive datetime
                    try:
                        expected = field.get_db_prep_save(value, connection)
                    except Exception as exc:  # noqa: BLE001 - the same error must come out
                        with pytest.raises(type(exc)):
                            prep(value)
                        continue
                    got = prep(value)
                if hasattr(expected, "obj"):  # psycopg's Jsonb wrapper has no equality of its own
                    got, expected = got.obj, expected.obj
                assert got == expected and type(got) in (type(expected), *type(expected).__mro__), (
                    model.__name__, field.name, value, got, expected)
                checked += 1
    assert checked > 300


def test_db_value_is_djangos_own_on_other_databases():
    from django.db import connection

    from billing.models import Payment
    from soldee.bulk import db_value

    prep = db_value(Payment._meta.get_field("paid_at"), connection)
    if connection.vendor == "postgresql":
        assert prep(timezone.now()) is not None
    else:  # SQLite stores datetimes as text: Django's adaptation must run
        moment = timezone.now()
        assert prep(moment) == Payment._meta.get_field("paid_at").get_db_prep_save(moment, connection)
        assert isinstance(prep(moment), str)
