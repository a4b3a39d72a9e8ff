"""Typed webhook events, parsed from the JSON Postmark posts (``parse(payload)``).

Each event is a dataclass whose fields are declared once, with their Postmark names
(``fields.postmark_field``); that declaration drives parsing. ``load(text)`` is the one rule for
what a body may hold before it is parsed (a JSON object, finite numbers, bounded nesting).
"""

from ..api.spec import BOUNCE_TYPES, BounceType
from .body import (
    MAX_DEPTH,
    MEMORY_PER_BYTE,
    OUTBOUND_MEMORY_PER_BYTE,
    InvalidPayload,
    TooLarge,
    load,
)
from .fields import clean_json, clean_text
from .identity import event_key
from .inbound import INBOUND, Address, Attachment, Header, InboundEvent
from .outbound import (
    Agent,
    BounceEvent,
    ClickEvent,
    DeliveryEvent,
    Event,
    Geo,
    OpenEvent,
    SpamComplaintEvent,
    SubscriptionChangeEvent,
    TrackingEvent,
    UnknownEvent,
)
from .routing import EVENT_TYPES, AnyEvent, event_type_of, parse, record_type_of

__all__ = [
    "BOUNCE_TYPES",
    "EVENT_TYPES",
    "INBOUND",
    "MAX_DEPTH",
    "MEMORY_PER_BYTE",
    "OUTBOUND_MEMORY_PER_BYTE",
    "Address",
    "Agent",
    "AnyEvent",
    "Attachment",
    "BounceEvent",
    "BounceType",
    "ClickEvent",
    "DeliveryEvent",
    "Event",
    "Geo",
    "Header",
    "InboundEvent",
    "InvalidPayload",
    "OpenEvent",
    "SpamComplaintEvent",
    "SubscriptionChangeEvent",
    "TooLarge",
    "TrackingEvent",
    "UnknownEvent",
    "clean_json",
    "clean_text",
    "event_key",
    "event_type_of",
    "load",
    "parse",
    "record_type_of",
]
