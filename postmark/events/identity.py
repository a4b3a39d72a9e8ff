"""What makes two outbound events the same event, whichever way they came.

A webhook retry repeats its body byte for byte, and the body's SHA-256 catches it. An event
recovered from the Messages API after an outage (``postmark.operations.recover_events``) has a
body of its own, though, and the webhook for the same event may still come (a retry that was
still pending, or a replay): both must be stored once. ``event_key`` names the event by what
Postmark's webhook and its API agree on:

* a bounce or spam complaint by its bounce ID (unique in Postmark), type, details, time and
  state (``Inactive``, ``CanActivate``: a bounce reactivated between its webhook and the
  recovery is told twice, each state once, as two webhooks would tell it);
* a delivery by message and recipient (a recipient's copy is delivered once);
* a first open by message and recipient: the opens API keeps only the first open, and the
  webhook says ``FirstOpen``; any later open by its time as well;
* a click by message, recipient, link and time; a subscription change by message (if any),
  recipient, direction and time.

Times are compared in UTC to the second: the two sources need not write the same fraction or
offset (Postmark writes up to 7 fractional digits, in any offset). Two clicks of one link by one
recipient within the same second are taken for one.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from .outbound import (
    BounceEvent,
    ClickEvent,
    DeliveryEvent,
    OpenEvent,
    SubscriptionChangeEvent,
)
from .routing import AnyEvent


def event_key(event: AnyEvent) -> str | None:
    """A SHA-256 (hex) naming the event, or None for those with no such name (inbound mail,
    unknown record types, an event missing what names it)."""
    parts = _parts(event)
    if parts is None:
        return None
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def _parts(event: AnyEvent) -> list[str] | None:
    if isinstance(event, BounceEvent):  # spam complaints too: they share the bounce IDs
        if not event.id:
            return None
        # The bounce and the state it tells: a webhook telling of the same bounce in a new
        # state (reactivated: Inactive false) is a new event that updates the row.
        state = f"{event.inactive}/{event.can_activate}"
        told = [event.type, event.details, _second(event.bounced_at), state]
        return ["bounce", str(event.id), *told]
    message = str(getattr(event, "message_id", None) or "")
    recipient = str(getattr(event, "recipient", "") or "").strip().lower()
    if isinstance(event, DeliveryEvent):
        return ["delivery", message, recipient] if recipient else None
    if isinstance(event, OpenEvent):
        moment = "first" if event.first_open else _second(event.received_at)
        return ["open", message, recipient, moment] if recipient and moment else None
    if isinstance(event, ClickEvent):
        moment = _second(event.received_at)
        if not (recipient and moment):
            return None
        return ["click", message, recipient, event.original_link, moment]
    if isinstance(event, SubscriptionChangeEvent):
        moment = _second(event.changed_at)
        if not moment:
            return None
        return ["subscription", message, recipient, str(event.suppress_sending), moment]
    return None


def _second(moment: datetime | None) -> str:
    if moment is None:
        return ""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
