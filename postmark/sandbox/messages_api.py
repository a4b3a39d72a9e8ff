"""Postmark's outbound message search (``GET /messages/outbound``) as the sandbox answers it.

Filters as Postmark names them: ``recipient``, ``fromemail``, ``tag``, ``status``, ``subject``,
``messagestream``, ``fromdate``/``todate`` (US Eastern wall time, daylight time included, when
they carry no offset, as Postmark reads them) and ``metadata_<name>=<value>``, one such field
per search (Postmark's rule: a second is refused here, so that a client relying on two learns
it). Newest first, ``count`` at most 500, ``count + offset`` at most 10,000.

The faults' ``index_delay`` plays the unknown time Postmark takes before a message it accepted
shows in its search: a message is found only that many seconds after it was accepted. Messages
sent with the test token are never found (Postmark keeps none of them).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from ..api.spec import MAX_SEARCH_WINDOW
from .faults import Faults
from .routing import Answer, Request, Route, paging, query_date
from .state import EASTERN, SandboxState, SentMessage, now, postmark_timestamp
from .validation import Refusal

_METADATA = "metadata_"
#: Postmark's ``status`` filter takes these; every message the sandbox keeps has been sent.
_STATUSES = ("queued", "sent")

Check = Callable[[SentMessage], bool]


class MessagesAPI:
    """``GET /messages/outbound``."""

    def __init__(self, state: SandboxState, faults: Faults) -> None:
        self.state = state
        self.faults = faults

    def routes(self) -> list[Route]:
        return [("GET", re.compile(r"/messages/outbound"), self.search)]

    def search(self, request: Request) -> Answer:
        count, offset = paging(request.query, MAX_SEARCH_WINDOW)
        checks = _checks(request.query)
        indexed_by = now() - timedelta(seconds=self.faults.index_delay)
        found = [
            message
            for message in reversed(self.state.snapshot()["messages"])
            if not message.test
            and message.submitted_at <= indexed_by
            and all(check(message) for check in checks)
        ]
        page = found[offset : offset + count]
        return Answer(200, {"TotalCount": len(found), "Messages": [summary(m) for m in page]})


def _checks(query: Mapping[str, str]) -> list[Check]:
    checks: list[Check] = []
    if query.get("recipient"):
        wanted = query["recipient"].lower()
        checks.append(lambda m: wanted in m.recipients)
    if query.get("fromemail"):
        sender = query["fromemail"].lower()
        checks.append(lambda m: sender in m.sender.lower())
    if query.get("tag"):
        checks.append(lambda m: m.tag == query["tag"])
    if query.get("subject"):
        subject = query["subject"].lower()
        checks.append(lambda m: subject in m.subject.lower())
    if query.get("messagestream"):
        checks.append(lambda m: m.stream == query["messagestream"])
    if query.get("status"):
        if query["status"].lower() not in _STATUSES:
            raise Refusal(403, f"'status' must be one of {', '.join(_STATUSES)}.")
        checks.append(lambda m: query["status"].lower() == "sent")
    if query.get("fromdate"):
        start = query_date("fromdate", query["fromdate"], EASTERN)
        checks.append(lambda m: m.submitted_at >= start)
    if query.get("todate"):
        end = query_date("todate", query["todate"], EASTERN, end_of_day=True)
        checks.append(lambda m: m.submitted_at <= end)
    fields = [(key[len(_METADATA) :], value) for key, value in query.items() if _is_field(key)]
    if len(fields) > 1:
        raise Refusal(403, "Messages can be searched by one metadata field at a time.")
    if fields:
        name, value = fields[0]
        checks.append(lambda m: _metadata_value(m, name) == value)
    return checks


def _is_field(key: str) -> bool:
    return key.lower().startswith(_METADATA) and len(key) > len(_METADATA)


def _metadata_value(message: SentMessage, name: str) -> str | None:
    # Metadata names differ by more than case (Postmark refuses two that do not).
    return next((v for k, v in message.metadata.items() if k.lower() == name.lower()), None)


def summary(message: SentMessage) -> dict[str, Any]:
    """A message as the search lists it (its bodies only come with its details)."""
    payload = message.payload
    return {
        "Tag": message.tag,
        "MessageID": message.message_id,
        "MessageStream": message.stream,
        "To": [{"Email": address, "Name": None} for address in message.to],
        "Cc": [{"Email": address, "Name": None} for address in message.cc],
        "Bcc": [{"Email": address, "Name": None} for address in message.bcc],
        "Recipients": list(message.recipients),
        "ReceivedAt": postmark_timestamp(message.submitted_at, eastern=True),
        "From": message.sender,
        "Subject": message.subject,
        "Attachments": list(message.attachments),
        "Status": "Sent",
        "TrackOpens": bool(payload.get("TrackOpens")),
        "TrackLinks": str(payload.get("TrackLinks") or "None"),
        "Metadata": dict(message.metadata),
        "Sandboxed": False,
    }
