"""The few statements every webhook runs, compiled once per process instead of once per call.

Why: the ORM builds a statement anew on every call (resolving expressions, quoting names,
compiling ON CONFLICT clauses); for the webhook path that took longer than the database itself
(0.3-1 ms per statement against well under 0.1 ms to run it), which is most of what separated
a webhook from a bare INSERT. The SQL text is built once per model, field list and database from
Django's own metadata (table and column names, quoting), and values still go through each field's
``get_db_prep_save``, exactly as the ORM would prepare them.

The sending path's Message log uses ``bulk_insert`` for the same reason: ``bulk_create`` prepared
every value of every row through the field API, which for a 500-message batch cost more than
sending the batch (about 0.2 ms a row, measured by tests/benchmarks/bench_send.py).

PostgreSQL and SQLite (3.35+: RETURNING, ON CONFLICT) get the compiled statements; any other
database gets the equivalent ORM calls, so the app works wherever Django does. As with
``bulk_create``, no model signals (``post_save``) are sent: react to ``postmark.signals``.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any, NamedTuple

from django.db import connections, models, router, transaction
from django.utils import timezone

_COMPILED_VENDORS = frozenset(("postgresql", "sqlite"))
# Fields whose Python values (str, int, bool, None) every driver takes as they are; the others
# (UUID, JSON, datetimes) go through the field's get_db_prep_save.
_PASS_THROUGH = frozenset(
    [
        "CharField",
        "TextField",
        "EmailField",
        "SlugField",
        "BigIntegerField",
        "IntegerField",
        "SmallIntegerField",
        "PositiveIntegerField",
        "PositiveBigIntegerField",
        "PositiveSmallIntegerField",
        "BooleanField",
    ]
)
_PLAIN_TYPES = (str, int, bool, type(None))


class _Column(NamedTuple):
    field: models.Field[Any, Any]
    name: str
    pass_through: bool
    max_length: int | None
    now: bool  # auto_now or auto_now_add
    internal_type: str


def _connection(model: type[models.Model]) -> Any:
    return connections[router.db_for_write(model)]


@lru_cache(maxsize=32)
def _columns(model: type[models.Model]) -> tuple[_Column, ...]:
    # Every concrete column but an auto primary key (the database assigns it).
    return tuple(
        _Column(
            field,
            field.name,
            field.get_internal_type() in _PASS_THROUGH,
            getattr(field, "max_length", None),
            bool(getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False)),
            field.get_internal_type(),
        )
        for field in model._meta.concrete_fields
        if not isinstance(field, models.AutoField)
    )


def _values(model: type[models.Model], values: Mapping[str, Any], connection: Any) -> list[Any]:
    """The parameters for every column, from ``values`` (field name -> Python value).

    A field left out gets its default, auto_now/auto_now_add fields the current time, as with
    ``Model.save()``; text longer than a CharField allows is cut (PostgreSQL would refuse it).
    """
    now = timezone.now()
    return [
        _prep(
            column,
            values[column.name] if column.name in values else _default(column, now),
            connection,
        )
        for column in _columns(model)
    ]


def _default(column: _Column, now: datetime) -> Any:
    return now if column.now else column.field.get_default()


def _prep(column: _Column, value: Any, connection: Any) -> Any:
    """The database value, as the field's get_db_prep_save() would give it, for less.

    get_db_prep_save() goes through get_prep_value() first (lookups, naive-datetime warnings),
    which for the values written here changes nothing and costs several times the adaptation.
    """
    if column.pass_through and isinstance(value, _PLAIN_TYPES):
        if column.max_length and isinstance(value, str) and len(value) > column.max_length:
            value = value[: column.max_length]  # PostgreSQL would refuse it
        return value
    kind = column.internal_type
    if kind == "DateTimeField" and type(value) is datetime and value.tzinfo is not None:
        return connection.ops.adapt_datetimefield_value(value)
    if kind == "UUIDField" and isinstance(value, uuid.UUID):
        return value if connection.features.has_native_uuid_field else value.hex
    if kind == "JSONField" and value is not None:
        return connection.ops.adapt_json_value(value, getattr(column.field, "encoder", None))
    return column.field.get_db_prep_save(value, connection)


@lru_cache(maxsize=64)
def _insert_sql(
    model: type[models.Model],
    alias: str,
    conflict: tuple[str, ...],
    update: tuple[str, ...],
    returning: bool = True,
    newer: str | None = None,
) -> str:
    quote = connections[alias].ops.quote_name
    table = quote(model._meta.db_table)
    column_of = {c.name: quote(str(c.field.column)) for c in _columns(model)}
    sql = (
        f"INSERT INTO {table} ({', '.join(column_of.values())}) "
        f"VALUES ({', '.join(['%s'] * len(column_of))})"
    )
    if conflict:
        targets = ", ".join(column_of[name] for name in conflict)
        assignments = ", ".join(
            f"{column_of[name]} = EXCLUDED.{column_of[name]}" for name in update
        )
        sql += f" ON CONFLICT ({targets}) DO UPDATE SET {assignments}"
        if newer:
            column = column_of[newer]
            sql += f" WHERE {table}.{column} IS NULL OR {table}.{column} <= EXCLUDED.{column}"
    if not returning:
        return sql
    return f"{sql} RETURNING {quote(str(model._meta.pk.column))}"  # type: ignore[union-attr]


def insert(row: models.Model) -> None:
    """INSERT the row and set its primary key (IntegrityError on a unique key, as save())."""
    model = type(row)
    connection = _connection(model)
    if connection.vendor not in _COMPILED_VENDORS:
        row.save(force_insert=True)
        return
    values = {c.name: getattr(row, c.field.attname) for c in _columns(model) if not c.now}
    with connection.cursor() as cursor:
        cursor.execute(
            _insert_sql(model, connection.alias, (), ()), _values(model, values, connection)
        )
        row.pk = cursor.fetchone()[0]
    row._state.adding = False
    row._state.db = connection.alias


def bulk_insert(model: type[models.Model], rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert ``rows`` (field name -> Python value) into ``model``'s table in one statement.

    A field that a row leaves out gets its default (``auto_now``/``auto_now_add``: now), as with
    ``bulk_create``. Text longer than a CharField's ``max_length`` is cut rather than refused:
    the log must not fail after the mail has gone.
    """
    if not rows:
        return
    connection = _connection(model)
    now = timezone.now()
    columns = _columns(model)
    # What a row leaves out is prepared once per call, not once per row.
    defaults = [_prep(column, _default(column, now), connection) for column in columns]
    given = set().union(*(row.keys() for row in rows))
    per_row = [(i, column) for i, column in enumerate(columns) if column.name in given]
    params = []
    for row in rows:
        values = list(defaults)
        for i, column in per_row:
            if column.name in row:
                values[i] = _prep(column, row[column.name], connection)
        params.append(values)
    sql = _insert_sql(model, connection.alias, (), (), returning=False)
    # A batch is logged whole or not at all; inside the caller's transaction, a savepoint keeps
    # a failed insert from breaking that transaction.
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        cursor.executemany(sql, params)


def upsert(
    model: type[models.Model],
    values: Mapping[str, Any],
    unique_fields: Sequence[str],
    update_fields: Sequence[str],
    *,
    newer: str | None = None,
) -> None:
    """INSERT a row (field name -> value), or UPDATE ``update_fields`` of the row that has the
    same ``unique_fields``; with ``newer`` (a field), only if the row's value of that field is
    missing or not later than the one given (so that an older event cannot undo a newer one)."""
    connection = _connection(model)
    if connection.vendor not in _COMPILED_VENDORS and newer:
        _upsert_if_newer(model, values, unique_fields, update_fields, newer)
        return
    if connection.vendor not in _COMPILED_VENDORS:
        model._default_manager.bulk_create(
            [
                model(
                    **{c.field.attname: values[c.name] for c in _columns(model) if c.name in values}
                )
            ],
            update_conflicts=True,
            unique_fields=list(unique_fields),
            update_fields=list(update_fields),
        )
        return
    sql = _insert_sql(
        model, connection.alias, tuple(unique_fields), tuple(update_fields), newer=newer
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, _values(model, values, connection))


def _upsert_if_newer(
    model: type[models.Model],
    values: Mapping[str, Any],
    unique_fields: Sequence[str],
    update_fields: Sequence[str],
    newer: str,
) -> None:
    # The ORM has no conditional upsert: lock the row (creating it if need be), then compare.
    keys = {name: values[name] for name in unique_fields}
    defaults = {name: value for name, value in values.items() if name not in keys}
    with transaction.atomic(using=router.db_for_write(model)):
        row, created = model._default_manager.select_for_update().get_or_create(
            **keys, defaults=defaults
        )
        current = getattr(row, newer)
        if created or (current is not None and current > values[newer]):
            return
        for name in update_fields:
            setattr(row, name, values[name])
        row.save(update_fields=list(update_fields))


def update_one(
    model: type[models.Model],
    key: tuple[str, Any],
    *,
    advance: tuple[str, Sequence[str], str],
    first: dict[str, Any],
    set_: dict[str, Any],
) -> int:
    """One UPDATE of the rows where ``key`` (field, value) matches:

    - ``advance`` (field, from_values, to_value): the field becomes to_value if it is one of
      from_values, else keeps its value;
    - ``first``: each field keeps its value if it has one, else takes the given one (COALESCE);
    - ``set_``: each field takes the given value.

    Returns the number of rows changed.
    """
    connection = _connection(model)
    field, from_values, to_value = advance
    key_field, key_value = key
    sql = _update_sql(
        model, connection.alias, key_field, field, len(from_values), tuple(first), tuple(set_)
    )
    by_name = {c.name: c for c in _columns(model)}

    def prep(name: str, value: Any) -> Any:
        return _prep(by_name[name], value, connection)

    params = [prep(field, value) for value in (*from_values, to_value)]
    params += [prep(name, value) for name, value in (*first.items(), *set_.items())]
    params.append(prep(key_field, key_value))
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return int(cursor.rowcount)


@lru_cache(maxsize=64)
def _update_sql(
    model: type[models.Model],
    alias: str,
    key: str,
    advanced: str,
    choices: int,
    first: tuple[str, ...],
    set_: tuple[str, ...],
) -> str:
    quote = connections[alias].ops.quote_name
    column = {c.name: quote(str(c.field.column)) for c in _columns(model)}
    placeholders = ", ".join(["%s"] * choices)
    assignments = [
        f"{column[advanced]} = CASE WHEN {column[advanced]} IN ({placeholders}) THEN %s "
        f"ELSE {column[advanced]} END",
        *(f"{column[name]} = COALESCE({column[name]}, %s)" for name in first),
        *(f"{column[name]} = %s" for name in set_),
    ]
    table = quote(model._meta.db_table)
    return f"UPDATE {table} SET {', '.join(assignments)} WHERE {column[key]} = %s"
