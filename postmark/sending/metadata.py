"""A message's Metadata as Postmark takes it, and the id this app adds to it.

Postmark refuses a message whose Metadata has more than 10 fields, a name over 20 characters or
a value over 80, or two names that differ only by case: each is refused here, before any request,
naming the field. Every message this app sends carries one field of its own, a generated id
under POSTMARK_LINK_FIELD, by which the message can be found again when Postmark's answer was lost.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..api.spec import MAX_METADATA_FIELDS, MAX_METADATA_KEY_LENGTH, MAX_METADATA_VALUE_LENGTH
from ..exceptions import UnsupportedMessageError


def metadata_of(metadata: Mapping[str, Any]) -> dict[str, str]:
    """Metadata as Postmark takes it: text values, no two keys that differ only by case, names
    and values no longer than Postmark takes, and at most its number of fields."""
    seen: dict[str, str] = {}
    for key, value in metadata.items():
        folded = str(key).lower()
        if folded in seen:
            raise UnsupportedMessageError(
                f"Metadata keys {seen[folded]!r} and {key!r} differ only by case; Postmark "
                "refuses that.",
                field="metadata",
            )
        seen[folded] = str(key)
        if len(str(key)) > MAX_METADATA_KEY_LENGTH or len(_text(value)) > MAX_METADATA_VALUE_LENGTH:
            raise UnsupportedMessageError(
                f"Postmark takes metadata names of at most {MAX_METADATA_KEY_LENGTH} characters "
                f"and values of at most {MAX_METADATA_VALUE_LENGTH}; {str(key)[:40]!r} is longer.",
                field="metadata",
            )
    if len(seen) > MAX_METADATA_FIELDS:
        raise UnsupportedMessageError(
            f"Postmark takes at most {MAX_METADATA_FIELDS} metadata fields; this message has "
            f"{len(seen)}.",
            field="metadata",
        )
    return {str(key): _text(value) for key, value in metadata.items()}


def add_link_id(metadata: dict[str, str], key: str, link_id: str) -> None:
    """Put the id generated for the message in ``metadata`` (as ``metadata_of`` gives it) under
    ``key`` (POSTMARK_LINK_FIELD). A field of the caller's by that name, in any case, is refused,
    never overwritten; so is a tenth field, since the id takes the last place Postmark has."""
    clash = next((name for name in metadata if name.lower() == key.lower()), None)
    if clash is not None:
        raise UnsupportedMessageError(
            f"The metadata field {clash!r} is the one this app fills with each message's "
            "generated id, to find the message again when Postmark's answer is lost: rename "
            "your field, or give the app's another name with POSTMARK_LINK_FIELD.",
            field="metadata",
        )
    if len(metadata) >= MAX_METADATA_FIELDS:
        raise UnsupportedMessageError(
            f"Postmark takes at most {MAX_METADATA_FIELDS} metadata fields, and this app adds "
            f"one ({key!r}, each message's generated id): give a message at most "
            f"{MAX_METADATA_FIELDS - 1} of your own.",
            field="metadata",
        )
    metadata[key] = link_id


def _text(value: Any) -> str:
    return "" if value is None else str(value)
