"""What a value becomes so that every database stores it, and stores it alike.

The databases differ at the edges: PostgreSQL refuses NUL in text and in JSON strings, MariaDB
refuses JSON nested 32 levels deep, no driver can encode a lone surrogate (which ``json.loads``
makes of ``"\\ud800"``), and ``float("inf")`` has no JSON spelling that PostgreSQL takes. A
webhook carrying any of these must still be stored (or its row would fail on every replay), and
stored the same everywhere, so both storage paths (``compiled``, ``orm``)
write what ``clean`` makes of a value:

- text: NUL and lone surrogates become U+FFFD (the replacement character);
- JSON: strings (and keys) as text; infinities and NaN become the strings ``"Infinity"``,
  ``"-Infinity"`` and ``"NaN"``; a float of 1e16 or more (always a whole number) becomes the
  integer it equals, which PostgreSQL's jsonb would otherwise give back rounded in decimal; an
  object or array nested deeper than ``JSON_MAX_DEPTH`` is kept as its JSON text, a string,
  at that depth.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from datetime import datetime
from functools import lru_cache
from itertools import islice
from typing import Any, NamedTuple

from django.db import models
from django.utils import timezone

#: MariaDB's JSON_VALID() refuses 32 levels; a little below it, the same on every database.
JSON_MAX_DEPTH = 30
REPLACEMENT = "\ufffd"
#: Where Python starts writing floats with an exponent, which jsonb turns into a decimal integer.
_EXPONENT_FROM = 1e16
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def clean_text(value: str) -> str:
    """The one text rule, for stored rows and webhook events alike: NUL (PostgreSQL refuses it)
    and lone surrogates (no driver encodes them) become U+FFFD, Unicode's mark for "a character
    was here that could not be kept". Replacing rather than dropping keeps the text's length
    and shows where something was lost, and never joins two parts of an address or an ID into
    another valid one ("a\\x00b@x" must not become "ab@x"). The str itself when it is clean."""
    if value.isascii():  # the usual case, and a fast test
        return value.replace("\x00", REPLACEMENT) if "\x00" in value else value
    return _UNSTORABLE.sub(REPLACEMENT, value)


def json_value(value: Any, depth: int = 0) -> Any:
    """Copy on write: a container is copied only when something in it changes, so that a large
    value is not copied for nothing."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
        return int(value) if abs(value) >= _EXPONENT_FROM else value
    if isinstance(value, dict | list | tuple):
        if depth >= JSON_MAX_DEPTH:
            return clean_text(json.dumps(value, allow_nan=True))
        if isinstance(value, dict):
            return _json_object(value, depth)
        for index, item in enumerate(value):
            stored = json_value(item, depth + 1)
            if stored is not item:
                rest = (json_value(later, depth + 1) for later in islice(value, index + 1, None))
                return [*islice(value, index), stored, *rest]
        return value if isinstance(value, list) else list(value)
    return value


def _json_object(value: dict[Any, Any], depth: int) -> dict[Any, Any]:
    def stored_key(key: Any) -> Any:
        return clean_text(key) if isinstance(key, str) else key

    for index, (key, item) in enumerate(value.items()):
        new_key, stored = stored_key(key), json_value(item, depth + 1)
        if new_key is not key or stored is not item:
            entries = islice(value.items(), index + 1, None)
            return {
                **dict(islice(value.items(), index)),
                new_key: stored,
                **{stored_key(k): json_value(v, depth + 1) for k, v in entries},
            }
    return value


# --- Columns: the same rules applied to a model's rows ------------------------------------------

# Fields whose Python values (str, int, bool, None) every driver takes as they are; ``compiled``
# gives the others (UUID, JSON, datetimes) to the field's get_db_prep_save.
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


class Column(NamedTuple):
    field: models.Field[Any, Any]
    name: str
    pass_through: bool  # a str, int, bool or None goes to the driver as it is
    max_length: int | None
    now: bool  # auto_now or auto_now_add
    internal_type: str


@lru_cache(maxsize=32)
def columns(model: type[models.Model]) -> tuple[Column, ...]:
    # Every concrete column but an auto primary key (the database assigns it).
    return tuple(
        Column(
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


def clean(column: Column, value: Any) -> Any:
    """The value every database stores alike: text and JSON by the rules above, and text longer
    than a column's ``max_length`` cut to it (PostgreSQL and MySQL would refuse it, SQLite keep
    it whole)."""
    if isinstance(value, str):  # the usual case first: this runs for every value written
        if not value.isascii() or "\x00" in value:
            value = clean_text(value)
        if column.max_length and len(value) > column.max_length:
            value = value[: column.max_length]
        return value
    if column.internal_type == "JSONField" and value is not None:
        return json_value(value)
    return value


def full_row(model: type[models.Model], values: Mapping[str, Any]) -> list[tuple[Column, Any]]:
    """Every column with its clean value; a field left out gets its default, auto_now and
    auto_now_add fields the current time, as with ``Model.save()``."""
    now = timezone.now()
    return [
        (
            column,
            clean(column, values[column.name] if column.name in values else default(column, now)),
        )
        for column in columns(model)
    ]


def instance_row(row: models.Model) -> list[tuple[Column, Any]]:
    """``full_row`` of the values a model instance holds (its auto_now and auto_now_add fields
    take the current time, as with ``Model.save()``)."""
    model = type(row)
    return full_row(
        model, {c.name: getattr(row, c.field.attname) for c in columns(model) if not c.now}
    )


def default(column: Column, now: datetime) -> Any:
    return now if column.now else column.field.get_default()
