"""From a payload to its typed event: on ``RecordType`` (and, for bounces, ``Type``), never on
``TypeCode``: spam complaints have arrived with TypeCode 512."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .fields import InvalidPayload, text
from .inbound import INBOUND, InboundEvent
from .outbound import (
    BounceEvent,
    ClickEvent,
    DeliveryEvent,
    Event,
    OpenEvent,
    SpamComplaintEvent,
    SubscriptionChangeEvent,
    UnknownEvent,
)

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
    return text(payload.get("RecordType")) or (INBOUND if inbound else "")


def event_type_of(payload: Mapping[str, Any], *, inbound: bool = False) -> type[AnyEvent]:
    record_type = record_type_of(payload, inbound=inbound)
    if not record_type:
        raise InvalidPayload("no RecordType (inbound mail goes to the inbound URL)")
    if record_type == INBOUND:
        return InboundEvent
    if record_type == "Bounce" and text(payload.get("Type")) == "SpamComplaint":
        return SpamComplaintEvent
    return EVENT_TYPES.get(record_type, UnknownEvent)


def parse(payload: Mapping[str, Any], *, inbound: bool = False) -> AnyEvent:
    """The typed event for a payload; ``inbound`` says it came to the inbound endpoint, where
    Postmark sends no RecordType. Raises InvalidPayload for what cannot be an event."""
    return event_type_of(payload, inbound=inbound).from_payload(payload)
