"""The id the app adds to every message's Metadata (POSTMARK_LINK_FIELD), for the tests that
compare a payload or a row's metadata with what the caller gave."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from postmark.sending.recipients import LINK_KEY


def own_metadata(metadata: Mapping[str, Any] | None) -> dict[str, Any]:
    """``metadata`` without the generated id, which must be there (a UUID): what the caller
    gave, and nothing else."""
    rest = dict(metadata or {})
    assert uuid.UUID(str(rest.pop(LINK_KEY)))
    return rest


def without_link_id(payload: Mapping[str, Any]) -> dict[str, Any]:
    """A payload as the caller's options made it: the generated id checked and taken out of
    its Metadata (and the Metadata left out when nothing else was in it)."""
    rest = dict(payload)
    metadata = own_metadata(rest.pop("Metadata", None))
    return {**rest, "Metadata": metadata} if metadata else rest
