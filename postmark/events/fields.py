"""How a Postmark field becomes a Python value: one declaration per field, total readers.

A field is declared once, on its event dataclass, with the Postmark names it may arrive under
and the reader that turns the JSON value into the field's type::

    server_id: int | None = postmark_field("ServerID", "ServerId", read=integer)

``read_fields`` walks those declarations; nothing else lists the fields. Every reader is total:
it returns a value of its type, or None for a value that is missing or of the wrong type (the
field then keeps its default), and never raises. A field declared ``required=...`` that reads
as None makes the payload an ``InvalidPayload`` with that reason.
"""

from __future__ import annotations

import dataclasses
import re
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from functools import cache
from itertools import islice
from typing import Any, NamedTuple, TypeVar

from ..api.timestamps import parse_timestamp
from ..storage.values import clean_text
from .body import InvalidPayload

T = TypeVar("T")
Reader = Callable[[Any], Any]

_INT64 = 2**63
# The one integer rule: a JSON integer, or a string of ASCII digits with at most one sign.
# (str.isdigit() also accepts superscripts and other scripts' digits, which int() refuses.)
_INTEGER_TEXT = re.compile(r"[+-]?[0-9]+", re.ASCII)


# --- Readers -------------------------------------------------------------------------------------


def clean_json(value: Any) -> Any:
    """A JSON value with every string cleaned by storage's one text rule (``clean_text``: NUL
    and lone surrogates become U+FFFD), since metadata goes into JSON columns as it is.
    Copy on write: a container is copied only when something in it changes, so that a large
    value is not copied for nothing. Recursive, but only over what ``body.load`` let through
    (at most MAX_DEPTH levels)."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, list):
        for index, item in enumerate(value):
            cleaned = clean_json(item)
            if cleaned is not item:
                rest = (clean_json(later) for later in islice(value, index + 1, None))
                return [*islice(value, index), cleaned, *rest]
        return value
    if isinstance(value, dict):
        for index, (key, item) in enumerate(value.items()):
            clean_key, cleaned = clean_text(str(key)), clean_json(item)
            if clean_key is not key or cleaned is not item:
                entries = islice(value.items(), index + 1, None)
                return {
                    **dict(islice(value.items(), index)),
                    clean_key: cleaned,
                    **{clean_text(str(k)): clean_json(v) for k, v in entries},
                }
        return value
    return value


def text(value: Any) -> str | None:
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def integer(value: Any) -> int | None:
    """What fits a 64-bit column: a JSON integer, or ASCII digits (Postmark's IDs are numbers)."""
    if isinstance(value, str) and _INTEGER_TEXT.fullmatch(value.strip()):
        value = int(value.strip())
    if isinstance(value, int) and not isinstance(value, bool) and -_INT64 <= value < _INT64:
        return value
    return None


def boolean(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def strict_boolean(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def a_uuid(value: Any) -> uuid.UUID | None:
    if not isinstance(value, str):
        return None
    try:
        return uuid.UUID(value.strip())
    except ValueError:
        return None


def timestamp(value: Any) -> datetime | None:
    try:
        parsed = parse_timestamp(value)
        # A year-1 date with a positive offset cannot be stored in UTC: unreadable.
        return parsed.astimezone(UTC) if parsed is not None else None
    except (OverflowError, ValueError):
        return None


def json_object(value: Any) -> dict[str, Any] | None:
    return clean_json(value) if isinstance(value, dict) else None


def nested(kind: type[T]) -> Callable[[Any], T | None]:
    """A JSON object read as the declared dataclass ``kind``."""

    def read(value: Any) -> T | None:
        return read_dataclass(kind, value) if isinstance(value, dict) else None

    return read


def list_of(kind: type[T]) -> Callable[[Any], list[T] | None]:
    """A JSON list of objects, each read as ``kind`` (items that are not objects are skipped)."""

    def read(value: Any) -> list[T] | None:
        if not isinstance(value, list):
            return None
        return [read_dataclass(kind, item) for item in value if isinstance(item, dict)]

    return read


# --- Declarations ------------------------------------------------------------------------------


class Source(NamedTuple):
    names: tuple[str, ...]
    read: Reader
    required: str | None


def postmark_field(
    *names: str,
    read: Reader = text,
    default: Any = "",
    factory: Callable[[], Any] | None = None,
    required: str | None = None,
) -> Any:
    """A dataclass field read from the first of ``names`` that reads as a value.
    ``required``: the reason the payload is refused when none does ("without a numeric ID")."""
    metadata = {"postmark": Source(names, read, required)}
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


@cache
def _plan(kind: type) -> tuple[tuple[str, Source], ...]:
    """The declared fields of ``kind`` (worked out once per class: parsing is per webhook)."""
    return tuple(
        (declared.name, declared.metadata["postmark"])
        for declared in dataclasses.fields(kind)
        if "postmark" in declared.metadata
    )


def read_fields(kind: type, payload: Mapping[str, Any], label: str = "") -> dict[str, Any]:
    """The keyword arguments for ``kind`` from the payload: each declared field that read.
    An empty string counts as missing: the next name is tried, and a required field fails."""
    values: dict[str, Any] = {}
    for name, source in _plan(kind):
        for key in source.names:
            raw = payload.get(key)
            value = None if raw is None else source.read(raw)
            if value is not None and value != "":
                values[name] = value
                break
        else:
            if source.required:
                raise InvalidPayload(f"{label or kind.__name__} {source.required}")
    return values


def read_dataclass(kind: type[T], payload: Mapping[str, Any], label: str = "") -> T:
    return kind(**read_fields(kind, payload, label))
