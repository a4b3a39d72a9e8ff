"""Outbound events (bounces, deliveries, opens, clicks, complaints, subscription changes).

Real payloads lack fields the documentation promises (an Unsubscribe bounce came with no Email
and no BouncedAt), spell ``ServerID`` as ``ServerId`` and send ``Tag`` as ``""`` or not at all,
so every field is optional except the few without which an event means nothing (``required``).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Self

from ..api.spec import BOUNCE_TYPES, BounceType
from .fields import (
    a_uuid,
    boolean,
    integer,
    json_object,
    nested,
    postmark_field,
    read_dataclass,
    strict_boolean,
    text,
    timestamp,
)


@dataclass
class Event:
    """What every outbound event carries."""

    record_type: str = postmark_field("RecordType")
    message_id: uuid.UUID | None = postmark_field("MessageID", read=a_uuid, default=None)
    message_stream: str = postmark_field("MessageStream")
    server_id: int | None = postmark_field("ServerID", "ServerId", read=integer, default=None)
    tag: str = postmark_field("Tag")
    metadata: dict[str, Any] = postmark_field("Metadata", read=json_object, factory=dict)

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> Self:
        label = text(payload.get("RecordType")) or cls.__name__.removesuffix("Event")
        return read_dataclass(cls, payload, label)


@dataclass
class BounceEvent(Event):
    id: int = postmark_field("ID", read=integer, default=0, required="without a numeric ID")
    type: str = postmark_field("Type")
    type_code: int | None = postmark_field("TypeCode", read=integer, default=None)
    name: str = postmark_field("Name")
    description: str = postmark_field("Description")
    details: str = postmark_field("Details")
    email: str = postmark_field("Email")
    from_email: str = postmark_field("From")
    bounced_at: datetime | None = postmark_field("BouncedAt", read=timestamp, default=None)
    dump_available: bool = postmark_field("DumpAvailable", read=boolean, default=False)
    inactive: bool = postmark_field("Inactive", read=boolean, default=False)
    can_activate: bool = postmark_field("CanActivate", read=boolean, default=False)
    subject: str = postmark_field("Subject")
    content: str = postmark_field("Content")

    @property
    def bounce_type(self) -> BounceType | None:
        return BOUNCE_TYPES.get(self.type)

    @property
    def failed_delivery(self) -> bool:
        """Whether the message did not reach the address (unknown types count as failures)."""
        known = self.bounce_type
        return known.failed_delivery if known is not None else True


@dataclass
class SpamComplaintEvent(BounceEvent):
    """Same fields as a bounce; ``type`` is "SpamComplaint"."""

    def __post_init__(self) -> None:
        self.type = self.type or "SpamComplaint"


_NEEDS_MESSAGE_ID = "without a valid MessageID"


@dataclass
class _Tracked(Event):
    """Events about one sent message: without its MessageID they mean nothing."""

    message_id: uuid.UUID | None = postmark_field(
        "MessageID", read=a_uuid, default=None, required=_NEEDS_MESSAGE_ID
    )


@dataclass
class DeliveryEvent(_Tracked):
    recipient: str = postmark_field("Recipient")
    delivered_at: datetime | None = postmark_field("DeliveredAt", read=timestamp, default=None)
    details: str = postmark_field("Details")


@dataclass(frozen=True)
class Agent:
    """A mail client or an operating system, as Postmark identifies it."""

    name: str = postmark_field("Name")
    company: str = postmark_field("Company")
    family: str = postmark_field("Family")


@dataclass(frozen=True)
class Geo:
    country_iso_code: str = postmark_field("CountryISOCode")
    country: str = postmark_field("Country")
    region_iso_code: str = postmark_field("RegionISOCode")
    region: str = postmark_field("Region")
    city: str = postmark_field("City")
    zip: str = postmark_field("Zip")
    coords: str = postmark_field("Coords")
    ip: str = postmark_field("IP")


@dataclass
class TrackingEvent(_Tracked):
    """What opens and clicks share."""

    recipient: str = postmark_field("Recipient")
    received_at: datetime | None = postmark_field("ReceivedAt", read=timestamp, default=None)
    client: Agent = postmark_field("Client", read=nested(Agent), factory=Agent)
    os: Agent = postmark_field("OS", read=nested(Agent), factory=Agent)
    platform: str = postmark_field("Platform")
    user_agent: str = postmark_field("UserAgent")
    geo: Geo = postmark_field("Geo", read=nested(Geo), factory=Geo)


@dataclass
class OpenEvent(TrackingEvent):
    first_open: bool = postmark_field("FirstOpen", read=boolean, default=False)
    read_seconds: int | None = postmark_field("ReadSeconds", read=integer, default=None)


@dataclass
class ClickEvent(TrackingEvent):
    click_location: str = postmark_field("ClickLocation")
    original_link: str = postmark_field("OriginalLink")


@dataclass
class SubscriptionChangeEvent(Event):
    recipient: str = postmark_field("Recipient", required="without a Recipient")
    changed_at: datetime | None = postmark_field("ChangedAt", read=timestamp, default=None)
    origin: str = postmark_field("Origin")
    #: True: Postmark now suppresses the address on the stream; False: it was reactivated.
    suppress_sending: bool = postmark_field(
        "SuppressSending",
        read=strict_boolean,
        default=False,
        required="without a true/false SuppressSending",
    )
    suppression_reason: str = postmark_field("SuppressionReason")


@dataclass
class UnknownEvent(Event):
    """A RecordType this version does not know: stored and acknowledged, no signal sent."""
