"""Postmark's bounce and suppression endpoints as the sandbox answers them."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC
from email.message import EmailMessage
from typing import Any

from ..api.spec import ERROR_BOUNCE_NOT_FOUND, ERROR_CANNOT_ACTIVATE
from .routing import Answer, Request, Route, known_stream, paging, query_date
from .state import Bounce, SandboxState
from .validation import ADDRESS, Refusal


class BouncesAPI:
    """``/bounces`` and ``/message-streams/{stream}/suppressions``."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state

    def routes(self) -> list[Route]:
        streams = r"/message-streams/([^/]+)/suppressions"
        return [
            ("GET", re.compile(r"/bounces"), self.list_bounces),
            ("GET", re.compile(r"/bounces/(\d+)"), self.get_bounce),
            ("GET", re.compile(r"/bounces/(\d+)/dump"), self.get_dump),
            ("PUT", re.compile(r"/bounces/(\d+)/activate"), self.activate),
            ("GET", re.compile(streams + "/dump"), self.dump_suppressions),
            ("POST", re.compile(streams), self.suppress),
            ("POST", re.compile(streams + "/delete"), self.unsuppress),
        ]

    def list_bounces(self, request: Request) -> Answer:
        count, offset = paging(request.query)
        query = request.query
        bounces = sorted(self.state.snapshot()["bounces"], key=lambda b: b.id, reverse=True)
        filters: list[Callable[[Bounce], bool]] = []
        if query.get("type"):
            filters.append(lambda b: b.bounce_type.name == query["type"])
        if query.get("inactive"):
            wanted = _boolean("inactive", query["inactive"])
            filters.append(lambda b: b.inactive == wanted)
        if query.get("emailFilter"):
            filters.append(lambda b: query["emailFilter"].lower() in b.email)
        if query.get("tag"):
            filters.append(lambda b: b.message.tag == query["tag"])
        if query.get("messageID"):
            filters.append(lambda b: b.message.message_id == query["messageID"])
        if query.get("messageStream"):
            filters.append(lambda b: b.message.stream == query["messageStream"])
        if query.get("fromdate"):
            start = query_date("fromdate", query["fromdate"], UTC)
            filters.append(lambda b: b.bounced_at >= start)
        if query.get("todate"):
            end = query_date("todate", query["todate"], UTC, end_of_day=True)
            filters.append(lambda b: b.bounced_at <= end)
        matching = [b for b in bounces if all(check(b) for check in filters)]
        page = matching[offset : offset + count]
        server_id = self.state.server_id
        return Answer(
            200,
            {"TotalCount": len(matching), "Bounces": [b.as_api_json(server_id) for b in page]},
        )

    def _bounce(self, bounce_id: str) -> Bounce:
        bounce = self.state.bounces.get(int(bounce_id))
        if bounce is None:
            # As Postmark answers it: 422 with ErrorCode 407, like its other API errors.
            raise Refusal(ERROR_BOUNCE_NOT_FOUND, f"Bounce {bounce_id} was not found.")
        return bounce

    def get_bounce(self, request: Request, bounce_id: str) -> Answer:
        bounce = self._bounce(bounce_id)
        return Answer(200, bounce.as_api_json(self.state.server_id, content=_raw_source(bounce)))

    def get_dump(self, request: Request, bounce_id: str) -> Answer:
        return Answer(200, {"Body": _raw_source(self._bounce(bounce_id))})

    def activate(self, request: Request, bounce_id: str) -> Answer:
        bounce = self._bounce(bounce_id)
        if not bounce.can_activate:
            raise Refusal(
                ERROR_CANNOT_ACTIVATE, "This bounce cannot be activated: it is a spam complaint."
            )
        with self.state.lock:
            self.state.unsuppress(bounce.email, bounce.message.stream)
            bounce.inactive = False
        answer = bounce.as_api_json(self.state.server_id)
        return Answer(200, {"Message": "OK", "Bounce": answer})

    # --- Suppressions ------------------------------------------------------------------------

    def dump_suppressions(self, request: Request, stream: str) -> Answer:
        known_stream(self.state, stream)
        query = request.query
        start = end = None
        if query.get("fromdate"):
            start = query_date("fromdate", query["fromdate"], UTC)
        if query.get("todate"):
            end = query_date("todate", query["todate"], UTC, end_of_day=True)
        found = [
            s.as_json()
            for s in self.state.snapshot()["suppressions"]
            if s.stream == stream
            and query.get("SuppressionReason", s.reason) == s.reason
            and query.get("Origin", s.origin) == s.origin
            and query.get("EmailAddress", s.email).lower() == s.email
            and (start is None or s.created_at >= start)
            and (end is None or s.created_at <= end)
        ]
        return Answer(200, {"Suppressions": found})

    def suppress(self, request: Request, stream: str) -> Answer:
        statuses = []
        for email in _suppression_addresses(request, known_stream(self.state, stream)):
            if not ADDRESS.match(email):
                statuses.append(_status(email, "Failed", "An invalid email address was provided."))
                continue
            self.state.suppress(email, stream, "ManualSuppression", "Customer")
            statuses.append(_status(email.lower(), "Suppressed", None))
        return Answer(200, {"Suppressions": statuses})

    def unsuppress(self, request: Request, stream: str) -> Answer:
        statuses = []
        for email in _suppression_addresses(request, known_stream(self.state, stream)):
            with self.state.lock:
                existing = self.state.suppressions.get((stream, email.lower()))
                if existing is not None and existing.reason == "SpamComplaint":
                    message = "You do not have the required authority to change this suppression."
                    statuses.append(_status(email.lower(), "Failed", message))
                    continue
                self.state.unsuppress(email, stream)
            statuses.append(_status(email.lower(), "Deleted", None))
        return Answer(200, {"Suppressions": statuses})


def _status(email: str, status: str, message: str | None) -> dict[str, Any]:
    return {"EmailAddress": email, "Status": status, "Message": message}


def _suppression_addresses(request: Request, stream: str) -> list[str]:
    body = request.json()
    items = body.get("Suppressions") if isinstance(body, dict) else None
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise Refusal(402, 'Received invalid JSON input: expected {"Suppressions": [...]}.')
    if len(items) > 50:
        raise Refusal(403, "At most 50 suppressions may be changed per request.")
    return [str(item.get("EmailAddress") or "") for item in items]


def _boolean(name: str, value: str) -> bool:
    if value.lower() not in ("true", "false"):
        raise Refusal(403, f"'{name}' must be true or false.")
    return value.lower() == "true"


def _raw_source(bounce: Bounce) -> str:
    """The bounced message as the receiving server would have returned it."""
    message = bounce.message
    source = EmailMessage()
    source["From"] = message.sender
    source["To"] = bounce.email
    source["Subject"] = message.subject
    source["Message-ID"] = message.header_message_id
    source["X-PM-Bounce-Type"] = bounce.bounce_type.name
    source.set_content(message.text_body or message.html_body or "")
    return source.as_string()
