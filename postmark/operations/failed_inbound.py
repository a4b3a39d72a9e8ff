"""Inbound mail Postmark could not deliver to the site: listed, and retried.

Postmark retries an inbound webhook like any other (about 10.5 hours) and then marks the message
``failed``; unlike outbound events, it can be sent again (``PUT /messages/inbound/{id}/retry``),
and then arrives at the inbound view as any inbound mail does (a 403 from the site also stops
the retries at once: that mail is failed too, and retrying it only helps once the cause is gone).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..api.spec import MAX_SEARCH_COUNT, MAX_SEARCH_WINDOW
from ..client import Client
from ..exceptions import PostmarkAPIError


def failed_inbound(*, client: Client | None = None, **filters: Any) -> list[dict[str, Any]]:
    """Every inbound message Postmark failed to deliver (``status=failed``), newest first, as
    ``GET /messages/inbound`` lists them (``MessageID``, ``From``, ``To``, ``Subject``, ``Date``,
    ``Status``...); ``filters`` take Postmark's names (``recipient``, ``fromdate``...)."""
    client = client or Client.from_settings()
    found: list[dict[str, Any]] = []
    offset = 0
    while offset < MAX_SEARCH_WINDOW:
        count = min(MAX_SEARCH_COUNT, MAX_SEARCH_WINDOW - offset)
        page = client.list_inbound(count=count, offset=offset, status="failed", **filters)
        messages = page.get("InboundMessages") or []
        found += [message for message in messages if isinstance(message, dict)]
        offset += len(messages)
        if not messages or offset >= int(page.get("TotalCount") or 0):
            break
    return found


@dataclass
class InboundRetrySummary:
    retried: list[str] = field(default_factory=list)
    #: MessageID -> Postmark's reason.
    refused: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        text = f"inbound: {len(self.retried)} failed messages sent again"
        if self.refused:
            reasons = "; ".join(f"{key}: {why}" for key, why in list(self.refused.items())[:5])
            text += f", {len(self.refused)} refused ({reasons})"
        return text


def retry_failed_inbound(
    *, client: Client | None = None, message_ids: list[str] | None = None, **filters: Any
) -> InboundRetrySummary:
    """Ask Postmark to deliver each failed inbound message again (those named, or every one
    listed). The whole list is read first: a retried message leaves the failed list, and paging
    while it shrinks would skip some."""
    client = client or Client.from_settings()
    if message_ids is None:
        message_ids = [str(m["MessageID"]) for m in failed_inbound(client=client, **filters)]
    summary = InboundRetrySummary()
    for message_id in message_ids:
        try:
            client.retry_inbound(message_id)
        except PostmarkAPIError as exc:  # not failed (any more), or unknown: the others go on
            summary.refused[message_id] = str(exc)
        else:
            summary.retried.append(message_id)
    return summary
