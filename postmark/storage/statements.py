"""Storage's one interface: the few write statements behind the default receivers, the webhook
views and the sent-message log, and the database limits they meet.

Each operation runs on one of two paths, picked per connection, with the same operations and the
same arguments (the connection first):

- ``compiled``: SQL compiled once per process, on SQLite, PostgreSQL and MySQL/MariaDB (the ORM
  built each statement anew, which cost more than running it: see that module);
- ``orm``: the same through the ORM, with only what Django documents for every backend, on any
  other database (Oracle, a third-party backend).

Both write what ``postmark.storage.values.clean`` makes of a value, so that a value is stored the
same wherever it goes (docs/databases.rst). Model signals (``post_save``) are not to be relied
on: the compiled path, as ``bulk_create``, sends none; react to ``postmark.signals``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Protocol

from django.db import connections, models, router

from ..models import WebhookEvent
from . import compiled, orm

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper


class StoragePath(Protocol):
    """What ``compiled`` and ``orm`` both offer: the functions below, the connection first (mypy
    checks each module against it, tests/storage/test_paths.py their signatures)."""

    def insert(self, connection: BaseDatabaseWrapper, row: models.Model) -> None: ...

    def bulk_insert(
        self,
        connection: BaseDatabaseWrapper,
        model: type[models.Model],
        rows: Sequence[Mapping[str, Any]],
    ) -> None: ...

    def update_rows(
        self,
        connection: BaseDatabaseWrapper,
        model: type[models.Model],
        key: str,
        rows: Sequence[Mapping[str, Any]],
        fields: Sequence[str],
    ) -> None: ...

    def upsert(
        self,
        connection: BaseDatabaseWrapper,
        model: type[models.Model],
        values: Mapping[str, Any],
        unique_fields: Sequence[str],
        update_fields: Sequence[str],
        *,
        newer: str | None = None,
    ) -> None: ...

    def update_one(
        self,
        connection: BaseDatabaseWrapper,
        model: type[models.Model],
        key: tuple[str, Any],
        *,
        advance: tuple[str, Sequence[str], str],
        first: dict[str, Any],
        set_: dict[str, Any],
    ) -> int: ...


# Typed as a StoragePath each, so that mypy checks both modules against it.
_COMPILED: StoragePath = compiled
_ORM: StoragePath = orm


def _path(model: type[models.Model]) -> tuple[BaseDatabaseWrapper, StoragePath]:
    """The connection ``model`` is written on, and the path that writes there."""
    connection = connections[router.db_for_write(model)]
    return connection, _COMPILED if connection.vendor in compiled.VENDORS else _ORM


def insert(row: models.Model) -> None:
    """INSERT the row and set its primary key (IntegrityError on a unique key, as save())."""
    connection, path = _path(type(row))
    path.insert(connection, row)


def bulk_insert(model: type[models.Model], rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert ``rows`` (field name -> Python value) into ``model``'s table in one statement
    (the ORM's path: as many as the database's parameter limit needs), all or none.

    A field that a row leaves out gets its default (``auto_now``/``auto_now_add``: now), as with
    ``bulk_create``; values are cleaned (``clean``): the log must not fail after the mail has gone.
    """
    if not rows:
        return
    connection, path = _path(model)
    path.bulk_insert(connection, model, rows)


def update_rows(
    model: type[models.Model],
    key: str,
    rows: Sequence[Mapping[str, Any]],
    fields: Sequence[str],
) -> None:
    """UPDATE ``fields`` (and any ``auto_now`` field) of each row whose ``key`` field equals the
    row's value of it, all or none, values cleaned as on insert. The rows must exist (a row that
    matches none changes nothing)."""
    if not rows:
        return
    connection, path = _path(model)
    path.update_rows(connection, model, key, rows, fields)


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
    connection, path = _path(model)
    path.upsert(connection, model, values, unique_fields, update_fields, newer=newer)


def update_one(
    model: type[models.Model],
    key: tuple[str, Any],
    *,
    advance: tuple[str, Sequence[str], str],
    first: dict[str, Any],
    set_: dict[str, Any],
) -> int:
    """One UPDATE of the rows where ``key`` (field, value) matches; returns the number of rows
    matched (MySQL, which counts rows changed, is told to count matched ones by Django's
    connection flags).

    - ``advance`` (field, from_values, to_value): the field becomes to_value if it is one of
      from_values, else keeps its value;
    - ``first``: each field keeps its value if it has one, else takes the given one (COALESCE);
    - ``set_``: each field takes the given value.
    """
    connection, path = _path(model)
    return path.update_one(connection, model, key, advance=advance, first=first, set_=set_)


# --- What the database allows, whichever path writes ---------------------------------------------

#: Room a MySQL packet keeps for the rest of the statement: the SQL and the other columns.
_PACKET_MARGIN = 64 * 1024

# A deadlock, or a lock wait given up: the database rolled the transaction back, and running it
# again is safe. MySQL/MariaDB name them by error number, PostgreSQL by SQLSTATE.
_MYSQL_RETRYABLE = frozenset({1205, 1213})
_POSTGRES_RETRYABLE = frozenset({"40P01", "40001"})


def is_deadlock(exc: BaseException) -> bool:
    """Whether ``exc`` is the database undoing a transaction that lost a lock race."""
    cause = exc.__cause__ or exc
    code = cause.args[0] if cause.args else None
    if isinstance(code, int) and code in _MYSQL_RETRYABLE:
        return True
    return getattr(cause, "sqlstate", None) in _POSTGRES_RETRYABLE


def body_limit(configured: int) -> tuple[int, str]:
    """The largest webhook body (in bytes) that can be accepted and then stored, and the setting
    that sets it: ``configured`` (POSTMARK_WEBHOOK_MAX_BYTES), or less where the database would
    refuse the row. MySQL and MariaDB take a statement as one packet of at most the server's
    ``max_allowed_packet``, text escaped in it (a quote or backslash takes two bytes), so there
    a body may take half a packet; PostgreSQL (1 GB a value) and SQLite (1 GB a row by
    default) take what POSTMARK_WEBHOOK_MAX_BYTES allows."""
    connection = connections[router.db_for_write(WebhookEvent)]
    if connection.vendor != "mysql":
        return configured, "POSTMARK_WEBHOOK_MAX_BYTES"
    storable_bytes = (_max_allowed_packet(connection.alias) - _PACKET_MARGIN) // 2
    if storable_bytes < configured:
        return storable_bytes, "half of the database's max_allowed_packet"
    return configured, "POSTMARK_WEBHOOK_MAX_BYTES"


@lru_cache(maxsize=8)
def _max_allowed_packet(alias: str) -> int:
    # Read once per process: a server's new value takes effect when the site restarts.
    with connections[alias].cursor() as cursor:
        cursor.execute("SELECT @@max_allowed_packet")
        return int(cursor.fetchone()[0])
