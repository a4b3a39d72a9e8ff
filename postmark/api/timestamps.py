"""Postmark's timestamps, in whatever ISO 8601 form they arrive, as aware datetimes."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

# Postmark sends up to 7 fractional digits ("2026-11-27T10:11:12.1234567-04:00") and "Z" or any
# offset. Python 3.11's fromisoformat() reads all of that (cutting the fraction to microseconds);
# the fallback below only tidies what it refuses, such as a lowercase "z".
_FRACTION = re.compile(r"(\.\d{6})\d+")


def parse_timestamp(value: object) -> datetime | None:
    """An aware datetime, or None for a missing, empty or unreadable value (naive means UTC)."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str) and value:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            parsed_or_none = _parse_untidy(value)
            if parsed_or_none is None:
                return None
            parsed = parsed_or_none
    else:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _parse_untidy(value: str) -> datetime | None:
    text = _FRACTION.sub(lambda match: match.group(1), value.strip())
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


# Postmark reads the dates of its searches (``fromdate``, ``todate``) as US Eastern wall time
# without an offset: UTC-5, or UTC-4 while daylight time is in force there. A start written at
# UTC-5 is read as that instant or an hour earlier, an end written at UTC-4 as that instant or an
# hour later: either way the range can only widen, never miss a message, whatever the date, and
# no time-zone database is needed to write it.
_EASTERN_STANDARD = timezone(timedelta(hours=-5))
_EASTERN_DAYLIGHT = timezone(timedelta(hours=-4))


def eastern_time(moment: datetime, *, end: bool = False) -> str:
    """An aware datetime as a search date Postmark reads (``2026-01-01T07:00:00``): as a
    ``fromdate`` by default, as a ``todate`` with ``end`` (then rounded up to the second)."""
    if end and moment.microsecond:
        moment += timedelta(microseconds=1_000_000 - moment.microsecond)
    zone = _EASTERN_DAYLIGHT if end else _EASTERN_STANDARD
    return moment.astimezone(zone).strftime("%Y-%m-%dT%H:%M:%S")
