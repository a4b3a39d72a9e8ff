"""Postmark's Webhooks API, message streams and data removals, as the sandbox answers them.

The webhooks configured here (webhook_config.py) are the ones the sandbox posts to.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ..api.spec import DEFAULT_STREAM, MAX_WEBHOOK_HEADERS
from .routing import Answer, Request, Route, known_stream
from .state import SandboxState
from .validation import Refusal
from .webhook_config import TRIGGERS, Webhook, WebhookRegistry


@dataclass
class DataRemoval:
    id: int
    requested_for: str
    requested_by: str
    status: str = "Pending"

    def as_json(self) -> dict[str, Any]:
        return {"ID": self.id, "Status": self.status}


class OperationsAPI:
    """``/webhooks``, ``/message-streams`` and ``/data-removals``."""

    def __init__(self, state: SandboxState, registry: WebhookRegistry) -> None:
        self.state = state
        self.registry = registry
        self.removals: dict[int, DataRemoval] = {}
        self._next_removal = 1

    def routes(self) -> list[Route]:
        return [
            ("GET", re.compile(r"/webhooks"), self.list_webhooks),
            ("POST", re.compile(r"/webhooks"), self.create_webhook),
            ("GET", re.compile(r"/webhooks/(\d+)"), self.get_webhook),
            ("PUT", re.compile(r"/webhooks/(\d+)"), self.edit_webhook),
            ("DELETE", re.compile(r"/webhooks/(\d+)"), self.delete_webhook),
            ("GET", re.compile(r"/message-streams"), self.list_streams),
            ("POST", re.compile(r"/data-removals"), self.request_removal),
            ("GET", re.compile(r"/data-removals/(\d+)"), self.get_removal),
        ]

    # --- Webhooks ----------------------------------------------------------------------------

    def _webhook(self, webhook_id: str) -> Webhook:
        webhook = self.registry.webhooks.get(int(webhook_id))
        if webhook is None:
            raise Refusal(1300, f"Webhook {webhook_id} was not found.", http_status=404)
        return webhook

    def list_webhooks(self, request: Request) -> Answer:
        stream = request.query.get("MessageStream")
        with self.registry.lock:
            found = list(self.registry.webhooks.values())
        if stream is not None:
            known_stream(self.state, stream)
            found = [w for w in found if w.stream == stream]
        return _answer({"Webhooks": [w.as_json() for w in found]})

    def get_webhook(self, request: Request, webhook_id: str) -> Answer:
        return _answer(self._webhook(webhook_id).as_json())

    def create_webhook(self, request: Request) -> Answer:
        body = _object(request.json())
        webhook = Webhook(
            0, "", known_stream(self.state, str(body.get("MessageStream") or DEFAULT_STREAM))
        )
        _apply(webhook, body, creating=True)
        return _answer(self.registry.add(webhook).as_json())

    def edit_webhook(self, request: Request, webhook_id: str) -> Answer:
        webhook = self._webhook(webhook_id)
        body = _object(request.json())
        with self.registry.lock:
            _apply(webhook, body, creating=False)
        return _answer(webhook.as_json())

    def delete_webhook(self, request: Request, webhook_id: str) -> Answer:
        webhook = self._webhook(webhook_id)
        with self.registry.lock:
            del self.registry.webhooks[webhook.id]
        return _answer({"ErrorCode": 0, "Message": f"Webhook {webhook.id} removed."})

    def list_streams(self, request: Request) -> Answer:
        streams = [
            {"ID": stream, "MessageStreamType": kind, "Name": stream.title()}
            for stream, kind in self.state.streams.items()
        ]
        return _answer({"MessageStreams": streams, "TotalCount": len(streams)})

    # --- Data removals -----------------------------------------------------------------------

    def request_removal(self, request: Request) -> Answer:
        body = _object(request.json())
        email = str(body.get("RequestedFor") or "").strip().lower()
        if "@" not in email:
            raise Refusal(300, "'RequestedFor' must be an email address.", http_status=422)
        with self.state.lock:
            removal = DataRemoval(self._next_removal, email, str(body.get("RequestedBy") or ""))
            self._next_removal += 1
            self.removals[removal.id] = removal
        return _answer(removal.as_json())

    def get_removal(self, request: Request, removal_id: str) -> Answer:
        removal = self.removals.get(int(removal_id))
        if removal is None:
            raise Refusal(1300, f"Data removal {removal_id} was not found.", http_status=404)
        if removal.status == "Pending":
            # Postmark works asynchronously; the sandbox does the work when first asked.
            self._erase(removal.requested_for)
            removal.status = "Done"
        return _answer(removal.as_json())

    def _erase(self, email: str) -> None:
        state = self.state
        with state.lock:
            state.messages[:] = [m for m in state.messages if email not in _addresses(m)]
            for bounce_id in [k for k, b in state.bounces.items() if b.email.lower() == email]:
                del state.bounces[bounce_id]
            for stream_email in [k for k in state.suppressions if k[1] == email]:
                del state.suppressions[stream_email]


def _addresses(message: Any) -> set[str]:
    return {address.lower() for address in message.recipients}


def _object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise Refusal(402, "Received invalid JSON input: expected an object.")
    return body


def _apply(webhook: Webhook, body: dict[str, Any], *, creating: bool) -> None:
    url = body.get("Url", None if creating else webhook.url)
    if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https"):
        raise Refusal(300, "'Url' must be an http or https URL.", http_status=422)
    headers = _headers(body["HttpHeaders"]) if "HttpHeaders" in body else webhook.headers
    webhook.url = url
    if "HttpAuth" in body:
        auth = body["HttpAuth"] or {}
        webhook.username = str(auth.get("Username") or "")
        webhook.password = str(auth.get("Password") or "")
    webhook.headers = headers
    for name, trigger in (body.get("Triggers") or {}).items():
        if name not in TRIGGERS or not isinstance(trigger, dict):
            raise Refusal(300, f"Unknown trigger '{name}'.", http_status=422)
        webhook.triggers[name] = {**webhook.triggers.get(name, {}), **trigger}


#: What a header name may hold (RFC 9110's token): nothing the sender could not send.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


def _headers(value: Any) -> list[dict[str, str]]:
    """``HttpHeaders`` as the sender will send them, or a refusal: a list of at most
    MAX_WEBHOOK_HEADERS ``{"Name", "Value"}``, names HTTP tokens, values without line breaks."""
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > MAX_WEBHOOK_HEADERS:
        raise Refusal(
            300,
            f"'HttpHeaders' must be a list of at most {MAX_WEBHOOK_HEADERS} headers.",
            http_status=422,
        )
    headers = []
    for header in value:
        name = header.get("Name") if isinstance(header, dict) else None
        text = header.get("Value") if isinstance(header, dict) else None
        if not isinstance(name, str) or not _TOKEN.fullmatch(name):
            raise Refusal(300, "Each header needs a 'Name' (an HTTP token).", http_status=422)
        if not isinstance(text, str) or any(char in text for char in "\r\n\0"):
            raise Refusal(300, f"Header '{name}' needs a one-line 'Value'.", http_status=422)
        headers.append({"Name": name, "Value": text})
    return headers


def _answer(body: Any) -> Answer:
    return Answer(200, body)
