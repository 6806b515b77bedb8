"""`__in` with a long list of values, sent to PostgreSQL as ONE array parameter.

Django writes `col IN (%s, %s, ...)` with a placeholder per value. Batches of 500 ids
(renewals, admin actions) then make statements of hundreds or thousands of
parameters, which psycopg re-parses in Python on every execution (it caches the parsed
form only for statements of at most 50 parameters) and quotes one by one. On PostgreSQL,
a list longer than `ARRAY_FROM` of plain values of a simple column type is sent as
`col = ANY(%s::type[])` instead: one parameter, the same rows. Anything else (short
lists, subqueries, expressions, composite keys, other column types, other databases)
goes to Django's own lookup unchanged.
"""

from __future__ import annotations

from django.core.exceptions import EmptyResultSet
from django.db.models import Field, ForeignObject
from django.db.models.expressions import ColPairs
from django.db.models.fields.related_lookups import RelatedIn
from django.db.models.lookups import In

ARRAY_FROM = 50  # psycopg parses and caches statements of up to 50 parameters

SIMPLE_TYPES = frozenset({
    "AutoField", "BigAutoField", "SmallAutoField", "IntegerField", "BigIntegerField", "SmallIntegerField",
    "PositiveIntegerField", "PositiveBigIntegerField", "PositiveSmallIntegerField",
    "UUIDField", "CharField", "TextField", "EmailField", "SlugField",
})
# Types a list of which psycopg sends as a PostgreSQL array literal unchanged (soldee.bulk).
ARRAY_TYPES = SIMPLE_TYPES | {"DateTimeField", "DateField", "BooleanField"}
TEXT_TYPES = frozenset({"CharField", "TextField", "EmailField", "SlugField"})


def takes_array(field, types=SIMPLE_TYPES) -> bool:
    """Whether a list of `field`'s values can go as one PostgreSQL array (a foreign key by
    its target's type)."""
    target = getattr(field, "target_field", field)
    return target.get_internal_type() in types


def array_type(field, connection) -> str:
    """The element type to cast a list of `field`'s values to. Text goes as `text`, never
    `varchar(n)`: an explicit cast to varchar(n) silently cuts longer values, so a
    too-long value could match (or be written as) its first n characters."""
    target = getattr(field, "target_field", field)
    return "text" if target.get_internal_type() in TEXT_TYPES else field.db_type(connection)


class _ArrayIn:
    def as_postgresql(self, compiler, connection):
        sql = self._as_array(compiler, connection)
        return sql if sql is not None else self.as_sql(compiler, connection)

    def _as_array(self, compiler, connection):
        if isinstance(self.lhs, (ColPairs, tuple)) or not self.rhs_is_direct_value() or len(self.rhs) <= ARRAY_FROM:
            return None
        field = getattr(self.lhs, "output_field", None)
        if not isinstance(field, Field):  # e.g. a reverse relation (ManyToOneRel): Django's way
            return None
        if not takes_array(field):  # a foreign key compares its target's values
            return None
        db_type = array_type(field, connection)
        if not db_type:
            return None
        values = [field.get_db_prep_value(v, connection, prepared=True) for v in self.rhs if v is not None]
        if any(isinstance(v, int) and not -(2**63) <= v < 2**63 for v in values):
            return None  # an out-of-range id matches nothing in IN; in a bigint[] it is an error
        if not values:
            raise EmptyResultSet  # as In does: NULL is never equal to anything
        lhs_sql, lhs_params = self.process_lhs(compiler, connection)
        return f"{lhs_sql} = ANY(%s::{db_type}[])", (*lhs_params, values)


class ArrayIn(_ArrayIn, In):
    pass


class RelatedArrayIn(_ArrayIn, RelatedIn):
    pass


def register() -> None:
    Field.register_lookup(ArrayIn)
    ForeignObject.register_lookup(RelatedArrayIn)
