"""Events recovered after an outage: what the webhooks of a time range would have brought,
rebuilt from Postmark's Messages API, stored and signalled exactly as the webhooks are.

Postmark retries a webhook for about 10.5 hours; a site down longer loses the events of that
time. For each message sent in the range (``GET /messages/outbound``, dates in US Eastern time),
its details (``GET /messages/outbound/{id}/details``) list its ``MessageEvents``; each becomes
the payload its webhook would have posted and goes through ``webhooks.processing.receive``, the
webhook view's own path: one row per event (``events.identity``: a recovered event and its
webhook, in either order, are one row), the same signals, the same receivers.

* Delivered -> Delivery; Bounced -> Bounce or SpamComplaint, with the bounce's fields from
  ``GET /bounces/{id}``; Opened -> Open and LinkClicked -> Click, with every field the webhook
  has from ``/messages/outbound/opens/{id}`` and ``/clicks/{id}`` (asked only for messages with
  such events); SubscriptionChanged -> SubscriptionChange. Transient delays have no webhook.
* ``Metadata`` and ``Tag`` come from the message's details, ``ServerID`` from ``GET /server``.
  What is still missing compared with the webhook is named on the row: its ``headers`` hold
  ``Recovered-From`` and ``Recovered-Missing`` (e.g. ``Content`` of a bounce whose webhook
  would have included it, ``Details`` of a delivery the API describes in other words).
* Postmark keeps only each recipient's first open: later opens, which a webhook set with
  ``PostFirstOpenOnly`` false would have posted one by one, cannot be recovered.

Cost: one search page per 500 messages, one details call per message, one more for the opens
and for the clicks of a message that has them, one per bounce; ``pace`` seconds between calls.
Postmark pages no further than 10,000 messages into a search, so a range holding more is split
in halves until each part fits.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from .. import events
from ..api.spec import MAX_SEARCH_COUNT, MAX_SEARCH_WINDOW
from ..api.timestamps import eastern_time
from ..client import Client
from ..exceptions import PostmarkError
from ..webhooks import processing

#: The headers a recovered row carries instead of a request's.
RECOVERED_FROM = "Recovered-From"
RECOVERED_MISSING = "Recovered-Missing"
#: Called after each message: (messages done, messages in the range).
Progress = Callable[[int, int], None]

# The fields each webhook carries (docs: POSTMARK.md, "Webhooks"); Content only when the
# webhook includes it, so it is named missing only when the API did not give it either.
WEBHOOK_FIELDS = {
    "Delivery": ("ServerID", "MessageStream", "MessageID", "Recipient", "Tag", "DeliveredAt",
                 "Details", "Metadata"),
    "Bounce": ("ID", "Type", "TypeCode", "Name", "Tag", "MessageID", "ServerID", "MessageStream",
               "Description", "Details", "Email", "From", "BouncedAt", "DumpAvailable",
               "Inactive", "CanActivate", "Subject", "Content", "Metadata"),
    "Open": ("FirstOpen", "Client", "OS", "Platform", "UserAgent", "ReadSeconds", "Geo",
             "MessageID", "ReceivedAt", "Tag", "Recipient", "MessageStream", "Metadata"),
    "Click": ("ClickLocation", "Client", "OS", "Platform", "UserAgent", "OriginalLink", "Geo",
              "MessageID", "ReceivedAt", "Tag", "Recipient", "MessageStream", "Metadata"),
    "SubscriptionChange": ("MessageID", "ServerID", "MessageStream", "ChangedAt", "Recipient",
                           "Origin", "SuppressSending", "SuppressionReason", "Tag", "Metadata"),
}  # fmt: skip
WEBHOOK_FIELDS["SpamComplaint"] = WEBHOOK_FIELDS["Bounce"]


@dataclass
class RecoverySummary:
    messages: int = 0
    #: Events stored now, by RecordType.
    new: Counter[str] = field(default_factory=Counter)
    #: Already stored: their webhook came, or an earlier recovery stored them.
    known: int = 0
    #: Stored, but a receiver failed: replay them (``postmark_replay``) once fixed.
    failed: int = 0
    #: Described too thinly to rebuild (a subscription change without its direction, say).
    skipped: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        kinds = ", ".join(f"{count} {kind}" for kind, count in sorted(self.new.items()))
        text = (
            f"events: {self.messages} messages read, {sum(self.new.values())} events recovered"
            f"{f' ({kinds})' if kinds else ''}, {self.known} already stored"
        )
        if self.failed:
            text += f", {self.failed} failed in a receiver (replay them)"
        if self.skipped:
            text += f", {len(self.skipped)} skipped: " + "; ".join(self.skipped[:5])
        return text


def recover_events(
    *,
    since: datetime,
    until: datetime,
    stream: str | None = None,
    client: Client | None = None,
    pace: float = 0.0,
    progress: Progress | None = None,
) -> RecoverySummary:
    """Rebuild and store the events of the messages sent from ``since`` to ``until``."""
    if until <= since:
        raise ValueError("The end of the range must come after its start.")
    api = _PacedClient(client or Client.from_settings(), pace)
    summary = RecoverySummary()
    server_id = _server_id(api)
    ids = list(_message_ids(api, since, until, stream, summary))
    for done, message_id in enumerate(ids, 1):
        for payload in _payloads(api, message_id, server_id, summary):
            _store(payload, message_id, summary)
        summary.messages = done
        if progress:
            progress(done, len(ids))
    return summary


class _PacedClient:
    """The client, waiting ``pace`` seconds between calls so that a long range stays below
    Postmark's (unpublished) rate limit; a 429 is retried by the client itself."""

    def __init__(self, client: Client, pace: float) -> None:
        self.client, self.pace, self._last = client, pace, 0.0

    def __call__(self, method: str, *args: Any, **kwargs: Any) -> Any:
        wait = self._last + self.pace - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        try:
            return getattr(self.client, method)(*args, **kwargs)
        finally:
            self._last = time.monotonic()


def _server_id(api: _PacedClient) -> int | None:
    try:
        answer = api("request", "GET", "/server")
    except PostmarkError:  # a token that may not read its server: ServerID is named missing
        return None
    found = answer.get("ID") if isinstance(answer, dict) else None
    return found if isinstance(found, int) else None


def _message_ids(
    api: _PacedClient,
    since: datetime,
    until: datetime,
    stream: str | None,
    summary: RecoverySummary,
) -> Iterator[str]:
    """Each MessageID sent in the range, once; a range past the search's 10,000 is halved."""
    seen: set[str] = set()
    pending = [(since, until)]
    while pending:
        start, end = pending.pop()
        # Written so that Postmark's reading can only widen the range (eastern_time).
        filters = {
            "fromdate": eastern_time(start),
            "todate": eastern_time(end, end=True),
            "messagestream": stream or None,
        }
        offset, total = 0, None
        while total is None or offset < total:
            count = min(MAX_SEARCH_COUNT, MAX_SEARCH_WINDOW - offset)
            page = api("search_outbound", count=count, offset=offset, **filters)
            total = int(page.get("TotalCount") or 0)
            if total > MAX_SEARCH_WINDOW and end - start > timedelta(seconds=2):
                middle = start + (end - start) / 2
                pending += [(start, middle), (middle, end)]
                break
            messages = page.get("Messages") or []
            for message in messages:
                message_id = str(message.get("MessageID") or "")
                if message_id and message_id not in seen:
                    seen.add(message_id)
                    yield message_id
            offset += len(messages)
            if not messages:
                break
            if offset >= MAX_SEARCH_WINDOW:
                summary.skipped.append(
                    f"the messages past {MAX_SEARCH_WINDOW:,} sent within {eastern_time(start)} "
                    f"to {eastern_time(end)} (Eastern; too many to page, even in a two-second "
                    "range)"
                )
                break


def _payloads(
    api: _PacedClient, message_id: str, server_id: int | None, summary: RecoverySummary
) -> Iterator[dict[str, Any]]:
    """The webhook payload of each event of one message."""
    details = api("get_outbound_details", message_id)
    common = {
        "MessageID": message_id,
        "MessageStream": details.get("MessageStream") or "",
        "Tag": details.get("Tag") or "",
        "Metadata": details.get("Metadata") or {},
        **({"ServerID": server_id} if server_id is not None else {}),
    }
    kinds = set()
    for entry in details.get("MessageEvents") or []:
        kind = str(entry.get("Type") or "")
        kinds.add(kind)
        if kind == "Delivered":
            yield _delivery(entry, common)
        elif kind == "Bounced":
            yield _bounce(api, entry, common)
        elif kind == "SubscriptionChanged":
            change = _subscription_change(entry, common)
            if change is None:
                summary.skipped.append(
                    f"a subscription change of {message_id} (no SuppressSending in its details)"
                )
            else:
                yield change
    if "Opened" in kinds:
        for entry in _all(api, "get_message_opens", message_id, "Opens"):
            # The API keeps the first open only: that is the one it lists.
            yield {**common, "RecordType": "Open", "FirstOpen": True, **entry}
    if "LinkClicked" in kinds:
        for entry in _all(api, "get_message_clicks", message_id, "Clicks"):
            yield {**common, "RecordType": "Click", **entry}


def _delivery(entry: dict[str, Any], common: dict[str, Any]) -> dict[str, Any]:
    details = entry.get("Details") or {}
    payload = {**common, "RecordType": "Delivery", "Recipient": entry.get("Recipient") or ""}
    payload["DeliveredAt"] = entry.get("ReceivedAt")
    if details.get("DeliveryMessage"):
        # The receiving server's answer: what the webhook's Details says, in other words.
        payload["Details"] = str(details["DeliveryMessage"])
    return payload


def _bounce(api: _PacedClient, entry: dict[str, Any], common: dict[str, Any]) -> dict[str, Any]:
    details = entry.get("Details") or {}
    bounce_id = details.get("BounceID")
    found = api("get_bounce", int(bounce_id)) if bounce_id is not None else {}
    payload = {**common, **found}  # the bounce's own Tag and stream win
    complaint = payload.get("Type") == "SpamComplaint"
    payload["RecordType"] = "SpamComplaint" if complaint else "Bounce"
    payload.setdefault("Email", entry.get("Recipient") or "")
    payload.setdefault("BouncedAt", entry.get("ReceivedAt"))
    payload["Metadata"] = common["Metadata"]  # GET /bounces carries none
    return payload


def _subscription_change(entry: dict[str, Any], common: dict[str, Any]) -> dict[str, Any] | None:
    details = entry.get("Details") or {}
    if not isinstance(details.get("SuppressSending"), bool):
        return None
    payload = {**common, "RecordType": "SubscriptionChange"}
    payload.update(Recipient=entry.get("Recipient") or "", ChangedAt=entry.get("ReceivedAt"))
    for name in ("Origin", "SuppressSending", "SuppressionReason"):
        if name in details:
            payload[name] = details[name]
    return payload


def _all(api: _PacedClient, method: str, message_id: str, key: str) -> Iterator[dict[str, Any]]:
    offset = 0
    while True:
        page = api(method, message_id, count=MAX_SEARCH_COUNT, offset=offset)
        entries = page.get(key) or []
        yield from (entry for entry in entries if isinstance(entry, dict))
        offset += len(entries)
        if not entries or offset >= int(page.get("TotalCount") or 0):
            return


def _store(payload: dict[str, Any], message_id: str, summary: RecoverySummary) -> None:
    record_type = str(payload["RecordType"])
    missing = [name for name in WEBHOOK_FIELDS[record_type] if name not in payload]
    headers = {RECOVERED_FROM: f"Messages API, message {message_id}"}
    if missing:
        headers[RECOVERED_MISSING] = ", ".join(missing)
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    outcome = processing.receive(body, events.load(body), headers=headers)
    if outcome.reason == "duplicate":
        summary.known += 1
    elif outcome.http_status == 200:
        summary.new[record_type] += 1
    elif outcome.http_status >= 500:
        summary.failed += 1
    else:
        summary.skipped.append(f"a {record_type} of {message_id} ({outcome.reason})")
