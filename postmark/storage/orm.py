"""Storage's operations through the ORM, for the databases ``compiled`` has no statements for
(Oracle, third-party backends): the same operations, with the same arguments, with only what
Django documents for every backend, writing the same values (``values``).

Nothing here is read before it is written: an INSERT in a savepoint (most rows are new), and on a
collision one UPDATE whose WHERE holds the newer-wins rule, which the database decides under its
row lock. No server here takes this path, so tests/storage runs it on SQLite, PostgreSQL and
MariaDB, and CI runs the whole suite with it (``POSTMARK_TEST_PORTABLE_SQL=1``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, models, transaction
from django.db.models.functions import Coalesce
from django.utils import timezone

from .values import clean, columns, full_row, instance_row

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper


def insert(connection: BaseDatabaseWrapper, row: models.Model) -> None:
    # save() is the one way every backend gives the new primary key back (it also sends
    # post_save, which the compiled path does not: receivers should use postmark.signals).
    for column, value in instance_row(row):
        setattr(row, column.field.attname, value)
    row.save(force_insert=True, using=connection.alias)


def bulk_insert(
    connection: BaseDatabaseWrapper, model: type[models.Model], rows: Sequence[Mapping[str, Any]]
) -> None:
    objects = [model(**{c.field.attname: v for c, v in full_row(model, row)}) for row in rows]
    with transaction.atomic(using=connection.alias):
        model._default_manager.using(connection.alias).bulk_create(objects)


def update_rows(
    connection: BaseDatabaseWrapper,
    model: type[models.Model],
    key: str,
    rows: Sequence[Mapping[str, Any]],
    fields: Sequence[str],
) -> None:
    # One UPDATE per row: bulk_update would need each row's primary key first.
    by_name = {c.name: c for c in columns(model)}
    now = timezone.now()
    touched = {c.name: now for c in columns(model) if getattr(c.field, "auto_now", False)}
    manager = model._default_manager.using(connection.alias)
    with transaction.atomic(using=connection.alias):
        for row in rows:
            values = {name: clean(by_name[name], row[name]) for name in fields}
            manager.filter(**{key: row[key]}).update(**values, **touched)


def upsert(
    connection: BaseDatabaseWrapper,
    model: type[models.Model],
    values: Mapping[str, Any],
    unique_fields: Sequence[str],
    update_fields: Sequence[str],
    *,
    newer: str | None = None,
) -> None:
    # The savepoint keeps a collision from breaking the caller's transaction.
    row = {column.field.attname: value for column, value in full_row(model, values)}
    manager = model._default_manager.using(connection.alias)
    try:
        with transaction.atomic(using=connection.alias):
            manager.bulk_create([model(**row)])
        return
    except IntegrityError:
        pass
    by_name = {c.name: c for c in columns(model)}
    matching = manager.filter(**{name: row[by_name[name].field.attname] for name in unique_fields})
    if newer:
        given = row[by_name[newer].field.attname]
        matching = matching.filter(
            models.Q(**{f"{newer}__isnull": True}) | models.Q(**{f"{newer}__lte": given})
        )
    attnames = [by_name[name].field.attname for name in update_fields]
    matching.update(**{attname: row[attname] for attname in attnames})


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
    changes: dict[str, Any] = {
        field: models.Case(
            models.When(**{f"{field}__in": list(from_values)}, then=models.Value(to_value)),
            default=models.F(field),
        ),
        **{name: Coalesce(models.F(name), models.Value(v)) for name, v in first.items()},
        **set_,
    }
    manager = model._default_manager.using(connection.alias)
    return int(manager.filter(**{key_field: key_value}).update(**changes))
