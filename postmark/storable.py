"""What a value becomes so that every database stores it, and stores it alike.

The databases differ at the edges: PostgreSQL refuses NUL in text and in JSON strings, MariaDB
refuses JSON nested 32 levels deep, no driver can encode a lone surrogate (which ``json.loads``
makes of ``"\\ud800"``), and ``float("inf")`` has no JSON spelling that PostgreSQL takes. A
webhook carrying any of these must still be stored (or its row would fail on every replay), and
stored the same everywhere, so ``postmark.sql`` passes every value through here first:

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
from typing import Any

#: MariaDB's JSON_VALID() refuses 32 levels; a little below it, the same on every database.
JSON_MAX_DEPTH = 30
REPLACEMENT = "\ufffd"
#: Where Python starts writing floats with an exponent, which jsonb turns into a decimal integer.
_EXPONENT_FROM = 1e16
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def text(value: str) -> str:
    if value.isascii():  # the usual case, and a fast test
        return value.replace("\x00", REPLACEMENT) if "\x00" in value else value
    return _UNSTORABLE.sub(REPLACEMENT, value)


def json_value(value: Any, depth: int = 0) -> Any:
    if isinstance(value, str):
        return text(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
        return int(value) if abs(value) >= _EXPONENT_FROM else value
    if isinstance(value, dict | list | tuple):
        if depth >= JSON_MAX_DEPTH:
            return text(json.dumps(value, allow_nan=True))
        if isinstance(value, dict):
            return {
                text(k) if isinstance(k, str) else k: json_value(v, depth + 1)
                for k, v in value.items()
            }
        return [json_value(item, depth + 1) for item in value]
    return value
