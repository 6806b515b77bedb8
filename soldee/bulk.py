"""Writing many rows in one statement (renewal batches settle hundreds of payments at once).

`rows_update` is `QuerySet.bulk_update` without its cost: Django builds a CASE WHEN per row
and field (O(rows × fields) expression objects); this sends one
`UPDATE t SET f = v.columnN ... FROM (VALUES (...), ...) AS v WHERE t.pk = v.column1`
per chunk, which PostgreSQL and SQLite (3.33+) both run. Like bulk_update, it calls no
save() and sends no signal: callers are service functions that record their own events.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from django.db import connections, models, router

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
        return f"CAST({sql} AS {field.db_type(connection)})" if postgres else sql

    sets = ", ".join(f"{qn(f.column)} = {cast(f'v.column{i + 2}', f)}" for i, f in enumerate(concrete))
    where = f"{qn(meta.db_table)}.{qn(pk.column)} = {cast('v.column1', pk)}"
    row_sql = "(" + ", ".join(["%s"] * (len(concrete) + 1)) + ")"
    updated = 0
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
