"""A lean bulk INSERT for the rows written on the sending path.

``QuerySet.bulk_create`` prepares every value of every field of every row through the field
API and builds one VALUES group per row; for the Message log of a 500-message batch that costs
more than sending the batch (about 0.2 ms a row, measured by tests/benchmarks/bench_send.py).
Here the fields a row leaves unset are prepared once per call, plain text and integers go to
the driver as they are, only the fields that need it (UUID, JSON, datetimes) go through the
field's own ``get_db_prep_save``, and the rows go in one ``executemany`` statement.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

from django.db import connections, models, router, transaction
from django.utils import timezone

# Fields whose Python value the database drivers take as it is (text, numbers, booleans).
_PASS_THROUGH = frozenset(
    {
        "CharField",
        "TextField",
        "EmailField",
        "SlugField",
        "IntegerField",
        "BigIntegerField",
        "SmallIntegerField",
        "PositiveIntegerField",
        "PositiveBigIntegerField",
        "PositiveSmallIntegerField",
        "BooleanField",
    }
)


def bulk_insert(model: type[models.Model], rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert ``rows`` (field name -> Python value) into ``model``'s table in one statement.

    A field that a row leaves out gets its default (``auto_now``/``auto_now_add``: now), as with
    ``bulk_create``. Text longer than a CharField's ``max_length`` is cut rather than refused:
    the log must not fail after the mail has gone. No model signals are sent.
    """
    if not rows:
        return
    connection = connections[router.db_for_write(model)]
    given = set().union(*(row.keys() for row in rows))
    now = timezone.now()
    columns: list[str] = []
    per_row: list[_Column] = []
    constants: list[Any] = []
    for field in model._meta.concrete_fields:
        if field.primary_key and isinstance(field, models.AutoField | models.BigAutoField):
            continue
        columns.append(connection.ops.quote_name(field.column or field.name))
        if field.name in given:
            internal_type = field.get_internal_type()
            pass_through = internal_type in _PASS_THROUGH
            limit = getattr(field, "max_length", None) if pass_through else None
            default = field.get_db_prep_save(_default(field, now), connection)
            adapt = None if pass_through else _adapter(field, internal_type, connection)
            per_row.append(_Column(len(constants), field.name, adapt, limit, default))
            constants.append(None)
        else:
            constants.append(field.get_db_prep_save(_default(field, now), connection))
    params = [_row_params(row, per_row, constants) for row in rows]
    placeholders = ", ".join(["%s"] * len(columns))
    sql = (
        f"INSERT INTO {connection.ops.quote_name(model._meta.db_table)} "
        f"({', '.join(columns)}) VALUES ({placeholders})"
    )
    # A batch is logged whole or not at all; inside the caller's transaction, a savepoint keeps
    # a failed insert from breaking that transaction.
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        cursor.executemany(sql, params)


def _default(field: models.Field[Any, Any], now: Any) -> Any:
    if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
        return now
    return field.get_default()


def _adapter(
    field: models.Field[Any, Any], internal_type: str, connection: Any
) -> Callable[[Any], Any]:
    """The conversion to a database value for one field.

    For the types the log uses, the backend's own adapter is called directly: the field's
    get_db_prep_save() goes through get_prep_value() first (naive-datetime warnings, lookups),
    which costs several times more and changes nothing for the values written here.
    """
    ops, features = connection.ops, connection.features
    if internal_type == "DateTimeField":
        return ops.adapt_datetimefield_value  # type: ignore[no-any-return]
    if internal_type == "UUIDField" and not features.has_native_uuid_field:
        return lambda value: None if value is None else value.hex
    if internal_type == "JSONField":
        encoder = getattr(field, "encoder", None)
        return lambda value: None if value is None else ops.adapt_json_value(value, encoder)
    return lambda value: field.get_db_prep_save(value, connection)


class _Column(NamedTuple):
    position: int
    name: str
    adapt: Callable[[Any], Any] | None  # None: the driver takes the value as it is
    max_length: int | None
    default: Any  # prepared, for a row that leaves the field out


def _row_params(row: Mapping[str, Any], per_row: list[_Column], constants: list[Any]) -> list[Any]:
    params = list(constants)
    for position, name, adapt, max_length, default in per_row:
        if name not in row:
            value = default
        elif adapt is not None:
            value = adapt(row[name])
        else:
            value = row[name]
            if max_length and isinstance(value, str) and len(value) > max_length:
                value = value[:max_length]
        params[position] = value
    return params
