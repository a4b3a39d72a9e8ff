"""What the Messages API tells of each message after the fact, as the sandbox answers it.

* ``GET /messages/outbound/{id}/details``: the message with its ``MessageEvents``, recorded as
  each of its events happens (``record``, called by the webhook sender for every outbound event,
  whether or not any webhook is posted: a site that is down still has events to recover).
* ``GET /messages/outbound/opens`` and ``/clicks`` (``count``, ``offset``, ``recipient``,
  ``tag``, ``messagestream``), and ``/opens/{id}``, ``/clicks/{id}``: the Open and Click webhooks'
  fields but ``FirstOpen`` and ``Metadata``; one open per recipient, the first, as Postmark keeps.
* ``GET /messages/inbound`` (``status``: processed, queued, scheduled, failed) and
  ``PUT /messages/inbound/{id}/retry``: the inbound mail delivered to the site, and a failed one
  posted again.

``open()``, ``click()`` and ``unsubscribe()`` play a recipient opening a message, following one
of its links, and unsubscribing: each fires its webhook and is recorded here.

The ``Details`` of each kind of MessageEvent follow Postmark's official Node.js client's types
(Delivered: ``DeliveryMessage``, ``DestinationServer``, ``DestinationIP``; Bounced: ``Summary``,
``BounceID``; Opened: ``Summary``; LinkClicked: ``Summary``, ``Link``, ``ClickLocation``); a
SubscriptionChanged's (``Origin``, ``SuppressSending``, ``SuppressionReason``) are not
documented anywhere: the sandbox's guess.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ..api.spec import MAX_SEARCH_WINDOW
from .inbound_api import InboundAPI
from .messages_api import summary
from .routing import Answer, Request, Route, paging
from .state import SandboxState, SentMessage, WebhookDelivery, now, postmark_timestamp
from .validation import Refusal
from .webhook_sender import WebhookSender

_MESSAGE_EVENT = {
    "Delivery": "Delivered",
    "Bounce": "Bounced",
    "SpamComplaint": "Bounced",
    "Open": "Opened",
    "Click": "LinkClicked",
    "SubscriptionChange": "SubscriptionChanged",
}
#: An inbound delivery's state, as the inbound list's Status says it.
_INBOUND_STATUS = {"delivered": "processed", "failed": "failed"}
_NOT_FOUND = 701


class MessageDetailsAPI:
    def __init__(self, state: SandboxState, webhooks: WebhookSender, inbound: InboundAPI) -> None:
        self.state = state
        self.webhooks = webhooks
        self.inbound = inbound
        #: MessageID -> its MessageEvents; its opens and clicks as the API lists them.
        self.events: dict[str, list[dict[str, Any]]] = {}
        self.opens: list[dict[str, Any]] = []
        self.clicks: list[dict[str, Any]] = []
        #: Every outbound webhook payload the sandbox made, posted or not (for tests to replay).
        self.payloads: list[dict[str, Any]] = []
        webhooks.listeners.append(self.record)

    def routes(self) -> list[Route]:
        outbound = r"/messages/outbound"
        return [
            ("GET", re.compile(outbound + r"/([^/]+)/details"), self.details),
            ("GET", re.compile(outbound + r"/opens"), self.list_opens),
            ("GET", re.compile(outbound + r"/opens/([^/]+)"), self.message_opens),
            ("GET", re.compile(outbound + r"/clicks"), self.list_clicks),
            ("GET", re.compile(outbound + r"/clicks/([^/]+)"), self.message_clicks),
            ("GET", re.compile(r"/messages/inbound"), self.list_inbound),
            ("PUT", re.compile(r"/messages/inbound/([^/]+)/retry"), self.retry_inbound),
        ]

    # --- Recording ----------------------------------------------------------------------------

    def record(self, record_type: str, payload: Mapping[str, Any]) -> None:
        kind = _MESSAGE_EVENT.get(record_type)
        message_id = str(payload.get("MessageID") or "")
        if kind is None or not message_id:
            return
        recipient = str(payload.get("Recipient") or payload.get("Email") or "")
        at = payload.get("ReceivedAt") or payload.get("DeliveredAt") or payload.get("BouncedAt")
        event = {
            "Recipient": recipient,
            "Type": kind,
            "ReceivedAt": payload.get("ChangedAt") or at,
            "Details": _details(record_type, payload),
        }
        with self.state.lock:
            self.payloads.append(dict(payload))
            self.events.setdefault(message_id, []).append(event)
            if record_type == "Click":
                self.clicks.append(_tracked(payload))
            elif record_type == "Open" and payload.get("FirstOpen"):
                self.opens.append(_tracked(payload))

    # --- A recipient's doings -----------------------------------------------------------------

    def open(self, message_id: str, recipient: str = "", *, first: bool = True) -> dict[str, Any]:
        """The recipient (by default the first) opens the message: its Open webhook."""
        message, recipient = self._message(message_id, recipient)
        payload = {
            "RecordType": "Open",
            "FirstOpen": first,
            **_reader(),
            "ReadSeconds": 5,
            **_about(message, recipient),
            "ReceivedAt": postmark_timestamp(now()),
        }
        self.webhooks.send("Open", payload)
        return payload

    def click(self, message_id: str, link: str, recipient: str = "") -> dict[str, Any]:
        """The recipient (by default the first) follows ``link``: its Click webhook."""
        message, recipient = self._message(message_id, recipient)
        payload = {
            "RecordType": "Click",
            "ClickLocation": "HTML",
            **_reader(),
            "OriginalLink": link,
            **_about(message, recipient),
            "ReceivedAt": postmark_timestamp(now()),
        }
        self.webhooks.send("Click", payload)
        return payload

    def unsubscribe(self, message_id: str, recipient: str = "") -> dict[str, Any]:
        """The recipient unsubscribes through the message: suppressed on its stream, and the
        SubscriptionChange webhook."""
        message, recipient = self._message(message_id, recipient)
        self.state.suppress(recipient, message.stream, "ManualSuppression", "Recipient")
        payload = {
            "RecordType": "SubscriptionChange",
            "ServerID": self.state.server_id,
            "ChangedAt": postmark_timestamp(now()),
            "Origin": "Recipient",
            "SuppressSending": True,
            "SuppressionReason": "ManualSuppression",
            **_about(message, recipient),
        }
        self.webhooks.send("SubscriptionChange", payload)
        return payload

    def _message(self, message_id: str, recipient: str = "") -> tuple[SentMessage, str]:
        with self.state.lock:
            message = next((m for m in self.state.messages if m.message_id == message_id), None)
        if message is None or message.test:
            raise Refusal(_NOT_FOUND, f"No message with ID {message_id!r}.", http_status=422)
        return message, (recipient or next(iter(message.recipients), "")).lower()

    # --- Outbound -----------------------------------------------------------------------------

    def details(self, request: Request, message_id: str) -> Answer:
        message, _ = self._message(message_id)
        with self.state.lock:
            message_events = list(self.events.get(message_id, []))
        bodies = {"TextBody": message.text_body, "HtmlBody": message.html_body}
        return Answer(200, {**summary(message), **bodies, "MessageEvents": message_events})

    def list_opens(self, request: Request) -> Answer:
        return self._page(request, self.opens, "Opens")

    def list_clicks(self, request: Request) -> Answer:
        return self._page(request, self.clicks, "Clicks")

    def message_opens(self, request: Request, message_id: str) -> Answer:
        return self._page(request, self.opens, "Opens", message_id)

    def message_clicks(self, request: Request, message_id: str) -> Answer:
        return self._page(request, self.clicks, "Clicks", message_id)

    def _page(
        self, request: Request, entries: list[dict[str, Any]], key: str, message_id: str = ""
    ) -> Answer:
        count, offset = paging(request.query, MAX_SEARCH_WINDOW)
        wanted = {name: request.query.get(name, "") for name in ("recipient", "tag")}
        stream = request.query.get("messagestream", "")
        with self.state.lock:
            found = [
                entry
                for entry in reversed(entries)  # newest first, as Postmark lists them
                if (not message_id or entry["MessageID"] == message_id)
                and (not wanted["recipient"] or entry["Recipient"] == wanted["recipient"].lower())
                and (not wanted["tag"] or entry["Tag"] == wanted["tag"])
                and (not stream or entry["MessageStream"] == stream)
            ]
        return Answer(200, {"TotalCount": len(found), key: found[offset : offset + count]})

    # --- Inbound ------------------------------------------------------------------------------

    def list_inbound(self, request: Request) -> Answer:
        count, offset = paging(request.query, MAX_SEARCH_WINDOW)
        status = request.query.get("status", "").lower()
        listed = [
            {**_inbound_summary(delivery), "Status": _inbound_status(delivery)}
            for delivery in reversed(self._latest_inbound().values())
        ]
        if status:
            listed = [entry for entry in listed if entry["Status"] == status]
        page = listed[offset : offset + count]
        return Answer(200, {"TotalCount": len(listed), "InboundMessages": page})

    def retry_inbound(self, request: Request, message_id: str) -> Answer:
        delivery = self._latest_inbound().get(message_id)
        if delivery is None:
            raise Refusal(_NOT_FOUND, f"No inbound message with ID {message_id!r}.", 422)
        if delivery.state != "failed":
            raise Refusal(
                _NOT_FOUND + 1, "Only a failed inbound message can be retried.", http_status=422
            )
        if (
            not self.inbound.url
            or self.webhooks.send_to(self.inbound.url, delivery.record_type, delivery.payload)
            is None
        ):
            raise Refusal(_NOT_FOUND + 1, "No inbound webhook URL to deliver it to.", 422)
        done = f"Successfully rescheduled failed message: {message_id}."
        return Answer(200, {"ErrorCode": 0, "Message": done})

    def _latest_inbound(self) -> dict[str, WebhookDelivery]:
        """Each inbound message's latest delivery (a retry is a delivery of its own)."""
        with self.state.lock:
            deliveries = [d for d in self.state.webhook_deliveries if d.record_type == "Inbound"]
        return {str(d.payload.get("MessageID") or d.id): d for d in deliveries}


def _details(record_type: str, payload: Mapping[str, Any]) -> dict[str, Any]:
    if record_type == "Delivery":
        return {
            # What the Delivery webhook's Details says: the receiving server's answer.
            "DeliveryMessage": payload.get("Details") or "",
            "DestinationServer": "sandbox.invalid",
            "DestinationIP": "127.0.0.1",
        }
    if record_type in ("Bounce", "SpamComplaint"):
        return {"Summary": str(payload.get("Description") or ""), "BounceID": payload.get("ID")}
    if record_type == "Click":
        return {
            "Summary": "Link clicked",
            "Link": payload.get("OriginalLink"),
            "ClickLocation": payload.get("ClickLocation"),
        }
    if record_type == "SubscriptionChange":
        names = ("Origin", "SuppressSending", "SuppressionReason")
        return {"Summary": "Subscription changed", **{n: payload.get(n) for n in names}}
    return {"Summary": "Message opened"}


def _tracked(payload: Mapping[str, Any]) -> dict[str, Any]:
    """An open or click as the API lists it: its webhook's fields but these."""
    return {k: v for k, v in payload.items() if k not in ("FirstOpen", "Metadata", "ServerID")}


def _about(message: SentMessage, recipient: str) -> dict[str, Any]:
    return {
        "MessageID": message.message_id,
        "Recipient": recipient,
        "Tag": message.tag,
        "MessageStream": message.stream,
        "Metadata": dict(message.metadata),
    }


def _reader() -> dict[str, Any]:
    agent = {"Name": "Sandbox Mail 1.0", "Company": "django-postmark", "Family": "Sandbox Mail"}
    return {
        "Client": agent,
        "OS": {"Name": "Loopback OS 1", "Company": "django-postmark", "Family": "Loopback OS"},
        "Platform": "Desktop",
        "UserAgent": "SandboxMail/1.0",
        "Geo": {"CountryISOCode": "ZZ", "Country": "Nowhere", "IP": "127.0.0.1"},
    }


def _inbound_summary(delivery: WebhookDelivery) -> dict[str, Any]:
    names = ("From", "FromName", "FromFull", "To", "ToFull", "Cc", "CcFull", "ReplyTo",
             "OriginalRecipient", "Subject", "Date", "MailboxHash", "Tag", "MessageID",
             "MessageStream", "Attachments")  # fmt: skip
    summary = {name: delivery.payload.get(name) for name in names}
    summary["Attachments"] = [
        {k: v for k, v in a.items() if k != "Content"} for a in summary["Attachments"] or []
    ]
    return summary


def _inbound_status(delivery: WebhookDelivery) -> str:
    if delivery.state in _INBOUND_STATUS:
        return _INBOUND_STATUS[delivery.state]
    return "scheduled" if delivery.attempts else "queued"
