"""Postmark's timestamps, in whatever ISO 8601 form they arrive, as aware datetimes."""

from __future__ import annotations

import re
from datetime import UTC, datetime

# Postmark sends up to 7 fractional digits ("2026-11-27T10:11:12.1234567-04:00"), which
# datetime.fromisoformat() refuses before Python 3.11 and mis-rounds nowhere: cut to 6.
_FRACTION = re.compile(r"(\.\d{6})\d+")


def parse_timestamp(value: object) -> datetime | None:
    """An aware datetime, or None for a missing, empty or unreadable value (naive means UTC)."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str) and value.strip():
        text = _FRACTION.sub(r"\1", value.strip())
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            return None
    else:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
