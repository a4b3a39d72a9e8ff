"""Typed webhook events, parsed from the JSON Postmark posts.

``parse(payload)`` routes on ``RecordType`` (and, for bounces, ``Type``), never on ``TypeCode``:
spam complaints have arrived with TypeCode 512. Real payloads lack fields the documentation
promises (an Unsubscribe bounce came with no Email and no BouncedAt), spell ``ServerID`` as
``ServerId`` and send ``Tag`` as ``""`` or not at all, so every field is optional except the few
without which an event means nothing; those raise ``InvalidPayload`` (the view answers 400).
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import Any, ClassVar

from django.core.mail import EmailMultiAlternatives

from .facts import BOUNCE_TYPES, BounceType
from .timestamps import parse_timestamp

INBOUND = "Inbound"


class InvalidPayload(ValueError):
    """The JSON is not a usable event; the message says which field is wrong, for the 400."""


_INT64 = 2**63


# --- Field readers: total functions, a wrong type reads as missing -------------------------------


def clean_text(value: str) -> str:
    """Text any database takes: no NUL (PostgreSQL refuses it), no lone surrogate (not UTF-8)."""
    if "\x00" in value:
        value = value.replace("\x00", "")
    if not value.isascii():
        value = value.encode("utf-8", "replace").decode("utf-8")
    return value


def clean_json(value: Any) -> Any:
    """A JSON value with every string cleaned (metadata goes into JSON columns as it is)."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_text(str(k)): clean_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clean_json(v) for v in value]
    return value


def _text(payload: Mapping[str, Any], *keys: str) -> str:
    for key in keys:
        value = payload.get(key)
        if isinstance(value, str):
            return clean_text(value)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
    return ""


def _int(payload: Mapping[str, Any], *keys: str) -> int | None:
    for key in keys:
        value = payload.get(key)
        if isinstance(value, bool):
            continue
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            value = int(value.strip())
        if isinstance(value, int) and -_INT64 <= value < _INT64:
            return value
    return None


def _bool(payload: Mapping[str, Any], key: str) -> bool:
    value = payload.get(key)
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return value is True


def _uuid(payload: Mapping[str, Any], key: str) -> uuid.UUID | None:
    value = payload.get(key)
    if not isinstance(value, str):
        return None
    try:
        return uuid.UUID(value.strip())
    except ValueError:
        return None


def _when(payload: Mapping[str, Any], key: str) -> datetime | None:
    parsed = parse_timestamp(payload.get(key))
    if parsed is None:
        return None
    try:
        # A year-1 date with a positive offset cannot be stored in UTC; treat it as unreadable.
        return parsed.astimezone(UTC)
    except (OverflowError, ValueError):
        return None


def _dict(payload: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = payload.get(key)
    return clean_json(value) if isinstance(value, dict) else {}


def _dicts(payload: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    value = payload.get(key)
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


# --- Events -------------------------------------------------------------------------------------


@dataclass
class Event:
    """What every outbound event carries."""

    record_type: str
    message_id: uuid.UUID | None = None
    message_stream: str = ""
    server_id: int | None = None
    tag: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)

    #: The signal (in postmark.signals) this event is sent with; None: stored, not signalled.
    signal_name: ClassVar[str | None] = None

    @classmethod
    def common(cls, payload: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "record_type": _text(payload, "RecordType"),
            "message_id": _uuid(payload, "MessageID"),
            "message_stream": _text(payload, "MessageStream"),
            "server_id": _int(payload, "ServerID", "ServerId"),
            "tag": _text(payload, "Tag"),
            "metadata": _dict(payload, "Metadata"),
        }


@dataclass
class BounceEvent(Event):
    id: int = 0
    type: str = ""
    type_code: int | None = None
    name: str = ""
    description: str = ""
    details: str = ""
    email: str = ""
    from_email: str = ""
    bounced_at: datetime | None = None
    dump_available: bool = False
    inactive: bool = False
    can_activate: bool = False
    subject: str = ""
    content: str = ""

    signal_name: ClassVar[str | None] = "bounce_received"

    @property
    def bounce_type(self) -> BounceType | None:
        return BOUNCE_TYPES.get(self.type)

    @property
    def failed_delivery(self) -> bool:
        """Whether the message did not reach the address (unknown types count as failures)."""
        known = self.bounce_type
        return known.failed_delivery if known is not None else True

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> BounceEvent:
        bounce_id = _int(payload, "ID")
        if bounce_id is None:
            raise InvalidPayload(f"{cls.__name__[:-5]} without a numeric ID")
        return cls(
            **cls.common(payload),
            id=bounce_id,
            type=_text(payload, "Type") or ("SpamComplaint" if cls is SpamComplaintEvent else ""),
            type_code=_int(payload, "TypeCode"),
            name=_text(payload, "Name"),
            description=_text(payload, "Description"),
            details=_text(payload, "Details"),
            email=_text(payload, "Email"),
            from_email=_text(payload, "From"),
            bounced_at=_when(payload, "BouncedAt"),
            dump_available=_bool(payload, "DumpAvailable"),
            inactive=_bool(payload, "Inactive"),
            can_activate=_bool(payload, "CanActivate"),
            subject=_text(payload, "Subject"),
            content=_text(payload, "Content"),
        )


@dataclass
class SpamComplaintEvent(BounceEvent):
    """Same fields as a bounce; ``type`` is "SpamComplaint"."""

    signal_name: ClassVar[str | None] = "spam_complaint_received"


@dataclass
class DeliveryEvent(Event):
    recipient: str = ""
    delivered_at: datetime | None = None
    details: str = ""

    signal_name: ClassVar[str | None] = "delivery_received"

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> DeliveryEvent:
        return cls(
            **_require_message_id(cls, payload),
            recipient=_text(payload, "Recipient"),
            delivered_at=_when(payload, "DeliveredAt"),
            details=_text(payload, "Details"),
        )


@dataclass(frozen=True)
class Agent:
    """A mail client or an operating system, as Postmark identifies it."""

    name: str = ""
    company: str = ""
    family: str = ""

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> Agent:
        return cls(_text(payload, "Name"), _text(payload, "Company"), _text(payload, "Family"))


@dataclass(frozen=True)
class Geo:
    country_iso_code: str = ""
    country: str = ""
    region_iso_code: str = ""
    region: str = ""
    city: str = ""
    zip: str = ""
    coords: str = ""
    ip: str = ""

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> Geo:
        return cls(
            *(
                _text(payload, key)
                for key in ("CountryISOCode", "Country", "RegionISOCode", "Region")
            ),
            *(_text(payload, key) for key in ("City", "Zip", "Coords", "IP")),
        )


@dataclass
class TrackingEvent(Event):
    """What opens and clicks share."""

    recipient: str = ""
    received_at: datetime | None = None
    client: Agent = field(default_factory=Agent)
    os: Agent = field(default_factory=Agent)
    platform: str = ""
    user_agent: str = ""
    geo: Geo = field(default_factory=Geo)

    @classmethod
    def tracking(cls, payload: Mapping[str, Any]) -> dict[str, Any]:
        return {
            **_require_message_id(cls, payload),
            "recipient": _text(payload, "Recipient"),
            "received_at": _when(payload, "ReceivedAt"),
            "client": Agent.from_payload(_dict(payload, "Client")),
            "os": Agent.from_payload(_dict(payload, "OS")),
            "platform": _text(payload, "Platform"),
            "user_agent": _text(payload, "UserAgent"),
            "geo": Geo.from_payload(_dict(payload, "Geo")),
        }


@dataclass
class OpenEvent(TrackingEvent):
    first_open: bool = False
    read_seconds: int | None = None

    signal_name: ClassVar[str | None] = "open_received"

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> OpenEvent:
        return cls(
            **cls.tracking(payload),
            first_open=_bool(payload, "FirstOpen"),
            read_seconds=_int(payload, "ReadSeconds"),
        )


@dataclass
class ClickEvent(TrackingEvent):
    click_location: str = ""
    original_link: str = ""

    signal_name: ClassVar[str | None] = "click_received"

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> ClickEvent:
        return cls(
            **cls.tracking(payload),
            click_location=_text(payload, "ClickLocation"),
            original_link=_text(payload, "OriginalLink"),
        )


@dataclass
class SubscriptionChangeEvent(Event):
    recipient: str = ""
    changed_at: datetime | None = None
    origin: str = ""
    #: True: Postmark now suppresses the address on the stream; False: it was reactivated.
    suppress_sending: bool = False
    suppression_reason: str = ""

    signal_name: ClassVar[str | None] = "subscription_change_received"

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> SubscriptionChangeEvent:
        recipient = _text(payload, "Recipient")
        if not recipient:
            raise InvalidPayload("SubscriptionChange without a Recipient")
        if not isinstance(payload.get("SuppressSending"), bool):
            raise InvalidPayload("SubscriptionChange without a true/false SuppressSending")
        return cls(
            **cls.common(payload),
            recipient=recipient,
            changed_at=_when(payload, "ChangedAt"),
            origin=_text(payload, "Origin"),
            suppress_sending=payload["SuppressSending"],
            suppression_reason=_text(payload, "SuppressionReason"),
        )


@dataclass
class UnknownEvent(Event):
    """A RecordType this version does not know: stored and acknowledged, no signal sent."""

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> UnknownEvent:
        return cls(**cls.common(payload))


# --- Inbound ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Address:
    email: str = ""
    name: str = ""
    mailbox_hash: str = ""

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> Address:
        return cls(_text(payload, "Email"), _text(payload, "Name"), _text(payload, "MailboxHash"))

    def __str__(self) -> str:
        if not self.name:
            return self.email
        from email.utils import formataddr

        return formataddr((self.name, self.email))


@dataclass(frozen=True)
class Attachment:
    name: str
    content: bytes
    content_type: str = "application/octet-stream"
    content_id: str = ""

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> Attachment:
        # Postmark's "check" button sends the content as "Data" rather than "Content".
        encoded = _text(payload, "Content", "Data")
        return cls(
            name=_text(payload, "Name"),
            content=_base64(encoded, _text(payload, "Name")),
            content_type=_text(payload, "ContentType") or "application/octet-stream",
            content_id=_text(payload, "ContentID"),
        )


def _base64(encoded: str, name: str) -> bytes:
    compact = "".join(encoded.split())
    try:
        return base64.b64decode(compact + "=" * (-len(compact) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidPayload(f"attachment {name!r} is not base64") from None


def _addresses(payload: Mapping[str, Any], key: str) -> list[Address]:
    return [Address.from_payload(item) for item in _dicts(payload, key)]


# Headers Django builds itself from the message's own fields; copying them would duplicate them.
_STRUCTURAL_HEADERS = frozenset(
    [
        "from",
        "to",
        "cc",
        "bcc",
        "reply-to",
        "subject",
        "mime-version",
        "content-type",
        "content-transfer-encoding",
    ]
)


@dataclass
class InboundEvent:
    """An inbound message; ``message`` is it as a Django ``EmailMultiAlternatives``."""

    message_id: str = ""
    message_stream: str = ""
    from_email: str = ""
    from_name: str = ""
    from_full: Address = field(default_factory=Address)
    to: str = ""
    to_full: list[Address] = field(default_factory=list)
    cc: str = ""
    cc_full: list[Address] = field(default_factory=list)
    bcc: str = ""
    bcc_full: list[Address] = field(default_factory=list)
    reply_to: str = ""
    original_recipient: str = ""
    subject: str = ""
    date: str = ""
    mailbox_hash: str = ""
    tag: str = ""
    text_body: str = ""
    html_body: str = ""
    stripped_text_reply: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    raw_email: str = ""

    record_type: ClassVar[str] = INBOUND
    signal_name: ClassVar[str | None] = "inbound_received"

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> InboundEvent:
        from_full = Address.from_payload(_dict(payload, "FromFull"))
        return cls(
            message_id=_text(payload, "MessageID"),
            message_stream=_text(payload, "MessageStream"),
            from_email=_text(payload, "From") or from_full.email,
            from_name=_text(payload, "FromName") or from_full.name,
            from_full=from_full,
            to=_text(payload, "To"),
            to_full=_addresses(payload, "ToFull"),
            cc=_text(payload, "Cc"),
            cc_full=_addresses(payload, "CcFull"),
            bcc=_text(payload, "Bcc"),
            bcc_full=_addresses(payload, "BccFull"),
            reply_to=_text(payload, "ReplyTo"),
            original_recipient=_text(payload, "OriginalRecipient"),
            subject=_text(payload, "Subject"),
            date=_text(payload, "Date"),
            mailbox_hash=_text(payload, "MailboxHash"),
            tag=_text(payload, "Tag"),
            text_body=_text(payload, "TextBody"),
            html_body=_text(payload, "HtmlBody"),
            stripped_text_reply=_text(payload, "StrippedTextReply"),
            headers=[(_text(h, "Name"), _text(h, "Value")) for h in _dicts(payload, "Headers")],
            attachments=[Attachment.from_payload(a) for a in _dicts(payload, "Attachments")],
            raw_email=_text(payload, "RawEmail"),
        )

    @cached_property
    def message(self) -> EmailMultiAlternatives:
        """The mail as a Django message, attachments decoded; built on first use."""
        sender = str(self.from_full) if self.from_full.email else self.from_email
        headers = {
            name: " ".join(value.split())  # folded lines would make the header unrenderable
            for name, value in self.headers
            if name and name.lower() not in _STRUCTURAL_HEADERS
        }
        if self.date:
            headers.setdefault("Date", self.date)
        message = EmailMultiAlternatives(
            subject=" ".join(self.subject.split()),
            body=self.text_body,
            from_email=sender,
            to=_recipients(self.to_full, self.to),
            cc=_recipients(self.cc_full, self.cc),
            bcc=_recipients(self.bcc_full, self.bcc),
            reply_to=[self.reply_to] if self.reply_to else None,
            headers=headers,
        )
        if self.html_body:
            message.attach_alternative(self.html_body, "text/html")
        for attachment in self.attachments:
            message.attach(attachment.name or None, attachment.content, attachment.content_type)
        return message


def _recipients(full: list[Address], plain: str) -> list[str]:
    if full:
        return [str(address) for address in full if address.email]
    from email.utils import getaddresses

    return [address for _, address in getaddresses([plain]) if address] if plain else []


# --- Routing ------------------------------------------------------------------------------------

#: Event class by RecordType (a plain table; a Bounce of Type SpamComplaint is a complaint too).
EVENT_TYPES: dict[str, type[Event]] = {
    "Bounce": BounceEvent,
    "SpamComplaint": SpamComplaintEvent,
    "Delivery": DeliveryEvent,
    "Open": OpenEvent,
    "Click": ClickEvent,
    "SubscriptionChange": SubscriptionChangeEvent,
}

AnyEvent = Event | InboundEvent


def record_type_of(payload: Mapping[str, Any], *, inbound: bool = False) -> str:
    """The RecordType the payload claims ("Inbound" for mail posted to the inbound endpoint)."""
    record_type = _text(payload, "RecordType")
    return record_type or (INBOUND if inbound else "")


def parse(payload: Mapping[str, Any], *, inbound: bool = False) -> AnyEvent:
    """The typed event for a payload; ``inbound`` says it came to the inbound endpoint, where
    Postmark sends no RecordType. Raises InvalidPayload for what cannot be an event."""
    record_type = record_type_of(payload, inbound=inbound)
    if not record_type:
        raise InvalidPayload("no RecordType (inbound mail goes to the inbound URL)")
    if record_type == INBOUND:
        return InboundEvent.from_payload(payload)
    if record_type == "Bounce" and _text(payload, "Type") == "SpamComplaint":
        return SpamComplaintEvent.from_payload(payload)
    event_type = EVENT_TYPES.get(record_type, UnknownEvent)
    return event_type.from_payload(payload)  # type: ignore[attr-defined,no-any-return]


def _require_message_id(cls: type[Event], payload: Mapping[str, Any]) -> dict[str, Any]:
    common = cls.common(payload)
    if common["message_id"] is None:
        raise InvalidPayload(f"{common['record_type'] or cls.__name__} without a valid MessageID")
    return common
