"""Storage's operations as SQL compiled once per process, on the three databases CI runs: SQLite,
PostgreSQL and MySQL/MariaDB. ``orm`` has the same operations, with the same arguments, for
every other database; ``statements`` picks one of the two per connection.

Why compiled: the ORM builds a statement anew on every call (resolving expressions, quoting names,
compiling conflict clauses), which on the webhook path took longer than the database itself
(0.3-1 ms a statement against well under 0.1 ms to run it), and ``bulk_create`` prepared every
value of a 500-message log through the field API, which cost more than sending the batch
(tests/benchmarks/bench_webhooks.py and bench_send.py measure both). The SQL text is built once
per model, field list and database from Django's own metadata (table and column names, quoting).

Two ways to say an upsert, each run by the whole suite on the database that takes it:

- PostgreSQL and SQLite (3.35+): ``INSERT ... ON CONFLICT (keys) DO UPDATE ... WHERE <newer>``,
  and ``RETURNING`` for the new primary key;
- MySQL and MariaDB: ``INSERT ... ON DUPLICATE KEY UPDATE``, with the newer-wins condition as an
  ``IF()`` per column (the condition's own column assigned last: MySQL applies the assignments
  in order, and a later one sees the earlier ones' results); the key is whichever unique key
  the row collides with, so a model upserted here has one unique key besides its primary key.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from django.db import connections, models, transaction
from django.utils import timezone

from .values import Column, clean, columns, default, full_row, instance_row

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper

#: The vendors this module has statements for; tests empty it to run the ORM's path instead.
VENDORS = frozenset(("postgresql", "sqlite", "mysql"))
_PLAIN_TYPES = (str, int, bool, type(None))  # what every driver takes as it is
_MEMO_TYPES = (*_PLAIN_TYPES, datetime, uuid.UUID)  # hashable, and equal only when alike


def insert(connection: BaseDatabaseWrapper, row: models.Model) -> None:
    model = type(row)
    params = [_prep(column, value, connection) for column, value in instance_row(row)]
    with connection.cursor() as cursor:
        cursor.execute(_insert_sql(model, connection.alias, (), ()), params)
        row.pk = cursor.lastrowid if connection.vendor == "mysql" else cursor.fetchone()[0]
    row._state.adding = False
    row._state.db = connection.alias


def bulk_insert(
    connection: BaseDatabaseWrapper, model: type[models.Model], rows: Sequence[Mapping[str, Any]]
) -> None:
    now = timezone.now()
    every = columns(model)
    # What a row leaves out is prepared once per call, not once per row.
    defaults = [_prep(column, clean(column, default(column, now)), connection) for column in every]
    given = set().union(*(row.keys() for row in rows))
    per_row = [(i, column) for i, column in enumerate(every) if column.name in given]
    # Most columns repeat from row to row (status, stream, sender, empty cc...): each distinct
    # plain value is cleaned and prepared once per call.
    prepared: dict[tuple[int, type, Any], Any] = {}
    params = []
    for row in rows:
        values = list(defaults)
        for i, column in per_row:
            if column.name not in row:
                continue
            value = row[column.name]
            if not isinstance(value, _MEMO_TYPES):
                values[i] = _prep(column, clean(column, value), connection)
                continue
            key = (i, type(value), value)  # the type, so that True and 1 stay apart
            if key not in prepared:
                prepared[key] = _prep(column, clean(column, value), connection)
            values[i] = prepared[key]
        params.append(values)
    sql = _insert_sql(model, connection.alias, (), (), returning=False)
    # A batch is logged whole or not at all; inside the caller's transaction, a savepoint keeps
    # a failed insert from breaking that transaction.
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        cursor.executemany(sql, params)


def update_rows(
    connection: BaseDatabaseWrapper,
    model: type[models.Model],
    key: str,
    rows: Sequence[Mapping[str, Any]],
    fields: Sequence[str],
) -> None:
    # One statement, run for every row (executemany).
    by_name = {c.name: c for c in columns(model)}
    touched = tuple(c.name for c in columns(model) if getattr(c.field, "auto_now", False))
    now = timezone.now()

    def prep(name: str, value: Any) -> Any:
        return _prep(by_name[name], clean(by_name[name], value), connection)

    params = [
        [prep(name, row[name]) for name in fields]
        + [prep(name, now) for name in touched]
        + [prep(key, row[key])]
        for row in rows
    ]
    sql = _update_rows_sql(model, connection.alias, key, (*fields, *touched))
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        cursor.executemany(sql, params)


def upsert(
    connection: BaseDatabaseWrapper,
    model: type[models.Model],
    values: Mapping[str, Any],
    unique_fields: Sequence[str],
    update_fields: Sequence[str],
    *,
    newer: str | None = None,
) -> None:
    sql = _insert_sql(
        model, connection.alias, tuple(unique_fields), tuple(update_fields), newer=newer
    )
    params = [_prep(column, value, connection) for column, value in full_row(model, values)]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def update_one(
    connection: BaseDatabaseWrapper,
    model: type[models.Model],
    key: tuple[str, Any],
    *,
    advance: tuple[str, Sequence[str], str],
    first: dict[str, Any],
    set_: dict[str, Any],
) -> int:
    field, from_values, to_value = advance
    key_field, key_value = key
    sql = _update_sql(
        model, connection.alias, key_field, field, len(from_values), tuple(first), tuple(set_)
    )
    by_name = {c.name: c for c in columns(model)}

    def prep(name: str, value: Any) -> Any:
        return _prep(by_name[name], clean(by_name[name], value), connection)

    params = [prep(field, value) for value in (*from_values, to_value)]
    params += [prep(name, value) for name, value in (*first.items(), *set_.items())]
    params.append(prep(key_field, key_value))
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return int(cursor.rowcount)


# --- The values and the SQL text the operations above send ---------------------------------------


def _prep(column: Column, value: Any, connection: BaseDatabaseWrapper) -> Any:
    """The database value of a clean value, as get_db_prep_save() would give it, for less.

    get_db_prep_save() goes through get_prep_value() first (lookups, naive-datetime warnings),
    which for the values written here changes nothing and costs several times the adaptation.
    """
    if column.pass_through and isinstance(value, _PLAIN_TYPES):
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
    connection = connections[alias]
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    column_of = {c.name: quote(str(c.field.column)) for c in columns(model)}
    placeholders = ", ".join(["%s"] * len(column_of))
    sql = f"INSERT INTO {table} ({', '.join(column_of.values())}) VALUES ({placeholders})"
    if conflict and connection.vendor == "mysql":
        sql += _on_duplicate_key(column_of, update, newer)
    elif conflict:
        targets = ", ".join(column_of[name] for name in conflict)
        assignments = ", ".join(
            f"{column_of[name]} = EXCLUDED.{column_of[name]}" for name in update
        )
        sql += f" ON CONFLICT ({targets}) DO UPDATE SET {assignments}"
        if newer:
            column = column_of[newer]
            sql += f" WHERE {table}.{column} IS NULL OR {table}.{column} <= EXCLUDED.{column}"
    if returning and connection.vendor != "mysql":  # MySQL: the cursor's lastrowid
        sql += f" RETURNING {quote(str(model._meta.pk.column))}"  # type: ignore[union-attr]
    return sql


def _on_duplicate_key(column_of: dict[str, str], update: tuple[str, ...], newer: str | None) -> str:
    # VALUES(column), the row that collided: MariaDB's only spelling, and MySQL's too (8.0.20
    # deprecates it, with a warning, for a row alias that MariaDB lacks); one statement for both.
    def assign(name: str) -> str:
        given = f"VALUES({column_of[name]})"
        if not newer:
            return f"{column_of[name]} = {given}"
        current = column_of[newer]
        wins = f"{current} IS NULL OR {current} <= VALUES({current})"
        return f"{column_of[name]} = IF({wins}, {given}, {column_of[name]})"

    ordered = sorted(update, key=lambda name: name == newer)  # the condition's column last
    return f" ON DUPLICATE KEY UPDATE {', '.join(map(assign, ordered))}"


@lru_cache(maxsize=16)
def _update_rows_sql(
    model: type[models.Model], alias: str, key: str, fields: tuple[str, ...]
) -> str:
    quote = connections[alias].ops.quote_name
    column = {c.name: quote(str(c.field.column)) for c in columns(model)}
    assignments = ", ".join(f"{column[name]} = %s" for name in fields)
    table = quote(model._meta.db_table)
    return f"UPDATE {table} SET {assignments} WHERE {column[key]} = %s"


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
    column = {c.name: quote(str(c.field.column)) for c in columns(model)}
    placeholders = ", ".join(["%s"] * choices)
    assignments = [
        f"{column[advanced]} = CASE WHEN {column[advanced]} IN ({placeholders}) THEN %s "
        f"ELSE {column[advanced]} END",
        *(f"{column[name]} = COALESCE({column[name]}, %s)" for name in first),
        *(f"{column[name]} = %s" for name in set_),
    ]
    table = quote(model._meta.db_table)
    return f"UPDATE {table} SET {', '.join(assignments)} WHERE {column[key]} = %s"
