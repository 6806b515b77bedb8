"""Writing many rows in one statement (renewal batches settle hundreds of payments at once).

`rows_update` is `QuerySet.bulk_update` without its cost: Django builds a CASE WHEN per row
and field (O(rows × fields) expression objects); this sends one
`UPDATE t SET f = v.columnN ... FROM (VALUES (...), ...) AS v WHERE t.pk = v.column1`
per chunk, which PostgreSQL and SQLite (3.33+) both run; on PostgreSQL, when every column
is of a simple type, `FROM unnest(%s::type[], ...)` with one array per column instead (a
parameter per column, not per value). Like bulk_update, it calls no save() and sends no
signal: callers are service functions that record their own events.
"""

from __future__ import annotations

import datetime
import functools
import time
import uuid
from collections.abc import Callable, Iterable, Sequence

from django.db import connections, models, router

from .lookups import ARRAY_TYPES, array_type, takes_array

CHUNK = 500


def rows_update(objs: Sequence[models.Model], fields: Iterable[str]) -> int:
    """Write `fields` of each (saved) instance in `objs` to its row. `auto_now` fields in
    `fields` get the current time, as save() would give them. Returns rows updated."""
    objs = list(objs)
    if not objs:
        return 0
    model = type(objs[0])
    meta = model._meta
    concrete = [meta.get_field(name) for name in fields]
    alias = router.db_for_write(model)
    connection = connections[alias]
    postgres = connection.vendor == "postgresql"
    for field in concrete:
        if getattr(field, "auto_now", False):
            for obj in objs:
                field.pre_save(obj, add=False)
    pk = meta.pk
    qn = connection.ops.quote_name

    def cast(sql: str, field) -> str:
        # text, not varchar(n), for text columns: an explicit cast to varchar(n) silently
        # cuts a longer value; assigning text to the column raises, as an UPDATE would.
        return f"CAST({sql} AS {array_type(field, connection)})" if postgres else sql

    sets = ", ".join(f"{qn(f.column)} = {cast(f'v.column{i + 2}', f)}" for i, f in enumerate(concrete))
    where = f"{qn(meta.db_table)}.{qn(pk.column)} = {cast('v.column1', pk)}"
    row_sql = "(" + ", ".join(["%s"] * (len(concrete) + 1)) + ")"
    updated = 0
    if postgres and all(takes_array(f, ARRAY_TYPES) for f in [pk, *concrete]):
        # One array per column (`unnest`): a parameter per column instead of one per value,
        # which psycopg would otherwise re-parse out of a statement of thousands.
        arrays = ", ".join(f"%s::{array_type(f, connection)}[]" for f in [pk, *concrete])
        names = ", ".join(f"column{i + 1}" for i in range(len(concrete) + 1))
        sql = f"UPDATE {qn(meta.db_table)} SET {sets} FROM unnest({arrays}) AS v({names}) WHERE {where}"
        with connection.cursor() as cursor:
            for start in range(0, len(objs), CHUNK):
                chunk = objs[start:start + CHUNK]
                prep = db_value(pk, connection)
                params = [[prep(obj.pk) for obj in chunk]]
                for f in concrete:
                    prep, attname = db_value(f, connection), f.attname
                    params.append([prep(getattr(obj, attname)) for obj in chunk])
                cursor.execute(sql, params)
                updated += cursor.rowcount
        return updated
    with connection.cursor() as cursor:
        for start in range(0, len(objs), CHUNK):
            chunk = objs[start:start + CHUNK]
            params: list = []
            for obj in chunk:
                params.append(pk.get_db_prep_save(obj.pk, connection))
                params.extend(f.get_db_prep_save(getattr(obj, f.attname), connection) for f in concrete)
            cursor.execute(
                f"UPDATE {qn(meta.db_table)} SET {sets} FROM (VALUES {', '.join([row_sql] * len(chunk))}) AS v "
                f"WHERE {where}",
                params,
            )
            updated += cursor.rowcount
    return updated


# Field classes whose get_db_prep_save, on PostgreSQL, hands a value of these exact Python
# types back unchanged (checked against Django's code: to_python/get_prep_value return it,
# the backend's adapt_*_value returns it). Exact classes only: a subclass may convert.
_PASS_THROUGH: dict[type, tuple[type, ...]] = {
    models.CharField: (str,), models.TextField: (str,), models.EmailField: (str,),
    models.SlugField: (str,), models.BooleanField: (bool,), models.UUIDField: (uuid.UUID,),
    models.AutoField: (int,), models.BigAutoField: (int,), models.SmallAutoField: (int,),
    models.IntegerField: (int,), models.BigIntegerField: (int,), models.SmallIntegerField: (int,),
    models.PositiveIntegerField: (int,), models.PositiveBigIntegerField: (int,),
    models.PositiveSmallIntegerField: (int,), models.DateField: (datetime.date,),
    models.DateTimeField: (datetime.datetime,),
}


def db_value(field, connection) -> Callable[[object], object]:
    """`field.get_db_prep_save(value, connection)` as a function of the value, cheaper for
    the common case: on PostgreSQL a value whose exact type the field stores unchanged
    (str for text, int for integers and integer foreign keys, an aware datetime, ...) is
    returned as it is, skipping Django's chain of ~6 calls per value (a quarter of a
    renewal batch's Python went there). Anything else — NULL in a NOT NULL column, a naive
    datetime, other types, other databases — takes Django's own path (its errors too)."""
    slow = functools.partial(field.get_db_prep_save, connection=connection)
    if connection.vendor != "postgresql":
        return slow
    target = field.target_field if isinstance(field, models.ForeignKey) else field
    types = _PASS_THROUGH.get(type(target))
    if types is None:
        return slow
    nullable = field.null
    if types == (datetime.datetime,):
        def prep_datetime(value):
            if type(value) is datetime.datetime and value.tzinfo is not None:
                return value
            return None if value is None and nullable else slow(value)
        return prep_datetime

    def prep(value):
        if type(value) in types:
            return value
        return None if value is None and nullable else slow(value)
    return prep


def row_insert_new(obj: models.Model, *, unique_field: str) -> bool:
    """INSERT one row unless a row with the same `unique_field` exists (ON CONFLICT DO
    NOTHING, PostgreSQL and SQLite 3.35+): one statement, no savepoint, none of save()'s
    machinery — for a hot path that de-duplicates on a unique key. `obj` must carry its
    primary key (a UUID default). Returns whether the row was inserted."""
    model = type(obj)
    meta = model._meta
    connection = connections[router.db_for_write(model)]
    fields = [f for f in meta.concrete_fields]
    values = [f.get_db_prep_save(f.pre_save(obj, add=True), connection) for f in fields]
    qn = connection.ops.quote_name
    sql = (f"INSERT INTO {qn(meta.db_table)} ({', '.join(qn(f.column) for f in fields)}) "
           f"VALUES ({', '.join(['%s'] * len(fields))}) "
           f"ON CONFLICT ({qn(meta.get_field(unique_field).column)}) DO NOTHING")
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        inserted = cursor.rowcount == 1
    if inserted:
        obj._state.adding = False
        obj._state.db = connection.alias
    return inserted


# --- Inserting many rows: COPY on PostgreSQL ---------------------------------------------

_sequences: dict[tuple[str, str], str] = {}


def rows_copy(objs: Sequence[models.Model], *, using: str | None = None) -> list[models.Model]:
    """`bulk_create(objs)` for PostgreSQL with COPY: Django builds one INSERT with a
    placeholder per value and psycopg quotes each value into it (profiled: ~40 % of a
    renewal batch's Python); COPY sends the prepared values as rows. Ids of an auto
    primary key come from the table's sequence in one query first, so every instance gets
    its pk as with bulk_create; `auto_now_add` fields are filled, `_state` marked saved.
    Like bulk_create it calls no save() and sends no signal. Errors are Django's
    (IntegrityError on a unique constraint), and leave the instances without a pk. The
    COPY is logged with the queries when queries are being captured, so counts stay true."""
    objs = list(objs)
    if not objs:
        return objs
    model = type(objs[0])
    alias = using or router.db_for_write(model)
    connection = connections[alias]
    connection.validate_no_broken_transaction()
    for obj in objs:
        obj._prepare_related_fields_for_save(operation_name="bulk_create")
    pk = model._meta.pk
    need_ids = [obj for obj in objs if obj.pk is None]
    if need_ids and not isinstance(pk, models.AutoField):
        for obj in need_ids:  # a pk with a Python default (UUID) is set at __init__
            obj.pk = pk.get_pk_value_on_save(obj)
        need_ids = [obj for obj in need_ids if obj.pk is None]
    try:
        with connection.cursor() as cursor:
            if need_ids:
                for obj, value in zip(need_ids, _next_ids(cursor, model, alias, len(need_ids)), strict=True):
                    obj.pk = value
            _copy_rows(cursor, connection, model, objs)
    except BaseException:
        for obj in need_ids:  # as bulk_create leaves them
            obj.pk = None
        raise
    for obj in objs:
        obj._state.adding = False
        obj._state.db = alias
    return objs


def _next_ids(cursor, model, alias: str, count: int) -> list[int]:
    key = (alias, model._meta.db_table)
    if key not in _sequences:
        cursor.execute("SELECT pg_get_serial_sequence(%s, %s)",
                       [cursor.db.ops.quote_name(model._meta.db_table), model._meta.pk.column])
        _sequences[key] = cursor.fetchone()[0]
    cursor.execute("SELECT nextval(%s) FROM generate_series(1, %s)", [_sequences[key], count])
    return [value for (value,) in cursor.fetchall()]


def _copy_rows(cursor, connection, model, objs) -> None:
    fields = list(model._meta.concrete_fields)
    qn = connection.ops.quote_name
    columns = [(f.attname, db_value(f, connection), _fills_on_insert(f)) for f in fields]
    rows = [[prep(field.pre_save(obj, add=True) if fills else getattr(obj, attname))
             for (attname, prep, fills), field in zip(columns, fields, strict=True)] for obj in objs]
    sql = f"COPY {qn(model._meta.db_table)} ({', '.join(qn(f.column) for f in fields)}) FROM STDIN"
    started = time.monotonic()
    with connection.wrap_database_errors, cursor.cursor.copy(sql) as copy:
        for row in rows:
            copy.write_row(row)
    if connection.queries_logged:
        connection.queries_log.append({"sql": f"{sql} -- {len(rows)} rows",
                                       "time": f"{time.monotonic() - started:.3f}"})


def _fills_on_insert(field) -> bool:
    """Whether `field.pre_save(obj, add=True)` may be more than reading the attribute
    (auto_now(_add) dates, file fields, any field class overriding pre_save)."""
    if type(field).pre_save is models.Field.pre_save:
        return False
    if type(field) in (models.DateTimeField, models.DateField):
        return field.auto_now or field.auto_now_add
    return True


@functools.cache
def copy_suits(model: type[models.Model]) -> bool:
    """Whether rows of `model` can go by COPY as bulk_create would write them: no column
    the database computes or returns (generated, db_default, db_returning besides an auto
    pk), no order_with_respect_to, no multi-table inheritance."""
    meta = model._meta
    if meta.order_with_respect_to or any(p._meta.concrete_model is not meta.concrete_model
                                         for p in meta.all_parents):
        return False
    for field in meta.concrete_fields:
        if getattr(field, "generated", False) or field.db_default is not models.NOT_PROVIDED:
            return False
        if field.db_returning and not (field.primary_key and isinstance(field, models.AutoField)):
            return False
    return True


class CopyQuerySet(models.QuerySet):
    """A QuerySet whose plain `bulk_create` of two rows or more uses `rows_copy` on
    PostgreSQL (the renewal batch's tables). Anything else — conflicts handling, a batch
    size, one row, another database, a model `copy_suits` refuses — is Django's own
    bulk_create. Values must be plain values, not expressions (as every caller passes)."""

    def bulk_create(self, objs, batch_size=None, ignore_conflicts=False, update_conflicts=False,
                    update_fields=None, unique_fields=None):
        objs = list(objs)
        self._for_write = True
        if (len(objs) >= 2 and batch_size is None and not (ignore_conflicts or update_conflicts)
                and connections[self.db].vendor == "postgresql" and copy_suits(self.model)):
            return rows_copy(objs, using=self.db)
        return super().bulk_create(objs, batch_size=batch_size, ignore_conflicts=ignore_conflicts,
                                   update_conflicts=update_conflicts, update_fields=update_fields,
                                   unique_fields=unique_fields)
