"""Postmark's Bulk API as the sandbox plays it: ``POST /email/bulk`` and ``GET /email/bulk/{id}``.

The content (From, Subject, bodies or a template, attachments, headers, metadata...) comes once,
the recipients many (``Messages``, each with its own To/Cc/Bcc, ``TemplateModel``, ``Metadata``
and ``Headers``). Each recipient message becomes a sent message of its own, with the shared
content's ``{{Var}}`` placeholders filled from its TemplateModel, so that its Delivery and Bounce
webhooks carry its own Metadata: the answer holds no MessageID per recipient, only the request's
ID, and Metadata is how a sender links the webhooks back.

The request is checked whole before anything is accepted: one bad recipient message refuses the
request (with the ErrorCode a single message would get, and which message it was), so a refused
request never leaves half of its recipients sent.

``enabled = False`` plays an account whose Bulk API Postmark's support has not switched on.
"""

from __future__ import annotations

import contextlib
import html
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..api.spec import ERROR_BULK_NOT_ENABLED
from .routing import Answer, Request, Route
from .sending_api import SendingAPI
from .state import now, postmark_timestamp
from .validation import Refusal, ValidMessage, validate_message

NOT_ENABLED = (
    "The Bulk API is not enabled for this account. Contact Postmark's support to enable it."
)
#: Where a request is after each status look-up: every client that follows a request to the end
#: sees each state once.
STATUSES = ("Accepted", "Processing", "Completed")
#: Fields of a recipient message; every other field is the shared content.
RECIPIENT_FIELDS = ("To", "Cc", "Bcc", "TemplateModel", "Metadata", "Headers")
#: ``{{ Name }}``, ``{{ Person.Name }}``, and ``{{{ Name }}}`` (not HTML-escaped), as Postmark's
#: templates write them.
PLACEHOLDER = re.compile(r"\{\{(\{)?\s*([A-Za-z_][\w]*(?:\.[A-Za-z_][\w]*)*)\s*\}?\}\}")


@dataclass
class BulkRequest:
    id: str
    submitted_at: datetime
    subject: str
    total: int
    #: The sandbox's MessageIDs of the recipient messages it sent (the answer does not show them).
    message_ids: list[str]
    looked_up: int = 0  # status look-ups so far: each moves it one step along STATUSES

    def status(self) -> dict[str, Any]:
        step = min(self.looked_up, len(STATUSES) - 1)
        self.looked_up += 1
        return {
            "Id": self.id,
            "SubmittedAt": postmark_timestamp(self.submitted_at, eastern=True),
            "TotalMessages": self.total,
            "PercentageCompleted": 100 * step // (len(STATUSES) - 1),
            "Status": STATUSES[step],
            "Subject": self.subject,
        }


@dataclass
class BulkAPI:
    sending: SendingAPI
    enabled: bool = True
    requests: dict[str, BulkRequest] = field(default_factory=dict)

    def routes(self) -> list[Route]:
        return [
            ("POST", re.compile(r"/email/bulk"), self.send),
            ("GET", re.compile(r"/email/bulk/([^/]+)"), self.get_status),
        ]

    def send(self, request: Request) -> Answer:
        self._check_enabled()
        body = request.json()
        if not isinstance(body, dict):
            raise Refusal(402, "Received invalid JSON input: expected a bulk request object.")
        template = bool(body.get("TemplateId") or body.get("TemplateAlias"))
        valid = [
            _recipient_message(body, item, position, template, self.sending.state.streams)
            for position, item in enumerate(_messages(body))
        ]
        message_ids = []
        for message in valid:
            # A message whose every recipient is inactive is dropped, not the whole request.
            with contextlib.suppress(Refusal):
                message_ids.append(self.sending.accept(message, request)["MessageID"])
        bulk = BulkRequest(
            str(uuid.uuid4()), now(), str(body.get("Subject") or ""), len(valid), message_ids
        )
        with self.sending.state.lock:
            self.requests[bulk.id] = bulk
        return Answer(
            200,
            {
                "ID": bulk.id,
                "Status": "Accepted",
                "SubmittedAt": postmark_timestamp(bulk.submitted_at, eastern=True),
            },
        )

    def get_status(self, request: Request, bulk_id: str) -> Answer:
        self._check_enabled()
        with self.sending.state.lock:
            bulk = self.requests.get(bulk_id)
            if bulk is None:
                raise Refusal(404, f"Bulk request '{bulk_id}' was not found.", http_status=404)
            return Answer(200, bulk.status())

    def _check_enabled(self) -> None:
        if not self.enabled:
            raise Refusal(ERROR_BULK_NOT_ENABLED, NOT_ENABLED, http_status=422)


def _messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    items = body.get("Messages")
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise Refusal(403, "'Messages' must be a list of recipient message objects.")
    if not items:
        raise Refusal(300, "Zero recipients specified: 'Messages' is empty.")
    return items


def _recipient_message(
    shared: dict[str, Any],
    item: dict[str, Any],
    position: int,
    template: bool,
    streams: dict[str, str],
) -> ValidMessage:
    """One recipient's message: the shared content, filled from its model, sent to its address."""
    model = item.get("TemplateModel")
    if model is None:
        model = {}
    if not isinstance(model, dict):
        raise Refusal(403, f"Messages[{position}]: 'TemplateModel' must be an object.")
    payload = {key: value for key, value in shared.items() if key != "Messages"}
    for key in ("To", "Cc", "Bcc"):
        payload[key] = item.get(key)
    payload["Metadata"] = _merged_metadata(shared.get("Metadata"), item.get("Metadata"), position)
    payload["Headers"] = _merged_list(shared.get("Headers"), item.get("Headers"), position)
    if template:
        payload["TemplateModel"] = model
    else:
        for key, escape in (("Subject", False), ("TextBody", False), ("HtmlBody", True)):
            if isinstance(payload.get(key), str):
                payload[key] = fill(payload[key], model, escape=escape)
    try:
        return validate_message(payload, template=template, streams=streams)
    except Refusal as refusal:
        raise Refusal(
            refusal.error_code, f"Messages[{position}]: {refusal.message}", refusal.http_status
        ) from None


def _merged_metadata(shared: Any, own: Any, position: int) -> Any:
    """The recipient's Metadata over the shared one (its own keys win)."""
    if own is None or own == {}:
        return shared
    if shared in (None, {}):
        return own
    if not isinstance(shared, dict) or not isinstance(own, dict):
        raise Refusal(300, f"Messages[{position}]: 'Metadata' must be an object of text values.")
    return {**shared, **own}


def _merged_list(shared: Any, own: Any, position: int) -> Any:
    if own in (None, []):
        return shared
    if shared in (None, []):
        return own
    if not isinstance(shared, list) or not isinstance(own, list):
        raise Refusal(300, f"Messages[{position}]: 'Headers' must be a list.")
    return [*shared, *own]


def fill(text: str, model: dict[str, Any], *, escape: bool) -> str:
    """``text`` with each ``{{Path}}`` replaced from ``model`` (missing values are empty, as in
    Postmark's templates); in HTML ``{{x}}`` is escaped and ``{{{x}}}`` is not."""

    def value(match: re.Match[str]) -> str:
        found: Any = model
        for part in match.group(2).split("."):
            found = found.get(part) if isinstance(found, dict) else None
        shown = "" if found is None or isinstance(found, dict | list) else str(found)
        raw = match.group(1) is not None
        return html.escape(shown) if escape and not raw else shown

    return PLACEHOLDER.sub(value, text)
