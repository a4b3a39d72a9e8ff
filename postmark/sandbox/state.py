"""What the sandbox holds: the messages it accepted, bounces, suppressions, webhook deliveries.

Everything lives in memory behind one lock; HTTP handler threads and the webhook thread share it.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from ..api.spec import DEFAULT_STREAM, BounceType
from .validation import ValidMessage

# Postmark answers SubmittedAt in US Eastern time (-05:00, or -04:00 in daylight time) and
# webhooks in UTC, both with 7 fractional digits; playing both shapes keeps clients honest about
# parsing offsets and long fractions. Django brings the time-zone database where the system
# lacks one (tzdata on Windows).
EASTERN = ZoneInfo("America/New_York")


def now() -> datetime:
    return datetime.now(UTC)


def postmark_timestamp(moment: datetime, *, eastern: bool = False) -> str:
    moment = moment.astimezone(EASTERN if eastern else UTC)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{moment.microsecond:06d}0"
    return text + (moment.isoformat()[-6:] if eastern else "Z")


@dataclass
class SentMessage(ValidMessage):
    """One message the sandbox accepted (one item of a batch is one message)."""

    message_id: str
    submitted_at: datetime
    endpoint: str
    #: Sent with the token POSTMARK_API_TEST: validated and answered, never "delivered".
    test: bool = False
    #: What became of each recipient: "delivered", a bounce type name, or "inactive" (dropped).
    outcomes: dict[str, str] = field(default_factory=dict)

    @property
    def header_message_id(self) -> str:
        """The Message-ID header it went out with, made of its MessageID: what a bounce report
        quotes and a reply's In-Reply-To names."""
        return f"<{self.message_id}@sandbox.postmark.local>"


@dataclass
class Bounce:
    id: int
    bounce_type: BounceType
    message: SentMessage
    email: str
    bounced_at: datetime
    inactive: bool

    @property
    def can_activate(self) -> bool:
        # Postmark will not reactivate an address that complained of spam.
        return self.bounce_type.name != "SpamComplaint"

    def as_api_json(self, server_id: int, content: str | None = None) -> dict[str, Any]:
        """The record as the Bounces API answers it (``GET /bounces``, ``GET /bounces/{id}``,
        ``PUT /bounces/{id}/activate``): the fields of Postmark's recorded answers and of its
        documented examples. No RecordType and no Metadata, which only the webhook carries;
        Tag only when the message had one (recorded answers leave it out); Content, the raw
        bounce, only for ``GET /bounces/{id}``."""
        message = self.message
        answer: dict[str, Any] = {
            "ID": self.id,
            "Type": self.bounce_type.name,
            "TypeCode": self.bounce_type.code,
            "Name": self.bounce_type.label,
            **({"Tag": message.tag} if message.tag else {}),
            "MessageID": message.message_id,
            "ServerID": server_id,
            "MessageStream": message.stream,
            "Description": self.bounce_type.description,
            "Details": f"Test bounce from the django-postmark sandbox ({self.bounce_type.name}).",
            "Email": self.email,
            "From": message.sender,
            "BouncedAt": postmark_timestamp(self.bounced_at),
            "DumpAvailable": True,
            "Inactive": self.inactive,
            "CanActivate": self.can_activate,
            "Subject": message.subject,
        }
        if content is not None:
            answer["Content"] = content
        return answer

    def as_json(self, server_id: int) -> dict[str, Any]:
        """The record as the Bounce (or SpamComplaint) webhook posts it: the API's fields, and
        RecordType, Tag (empty when none) and the message's Metadata."""
        message = self.message
        return {
            "RecordType": self.bounce_type.record_type,
            **self.as_api_json(server_id),
            "Tag": message.tag,
            "Metadata": dict(message.metadata),
        }


@dataclass
class Suppression:
    email: str
    stream: str
    reason: str  # HardBounce, SpamComplaint, ManualSuppression
    origin: str  # Recipient, Customer, Admin
    created_at: datetime

    def as_json(self) -> dict[str, Any]:
        return {
            "EmailAddress": self.email,
            "SuppressionReason": self.reason,
            "Origin": self.origin,
            "CreatedAt": postmark_timestamp(self.created_at),
        }


@dataclass
class Attempt:
    at: datetime
    status: int | None  # the HTTP status, or None when no answer came
    error: str = ""


@dataclass
class WebhookDelivery:
    id: int
    record_type: str
    url: str  # without the password, for display
    payload: dict[str, Any]
    attempts: list[Attempt] = field(default_factory=list)
    state: str = "pending"  # pending, delivered, failed

    @property
    def last_status(self) -> int | None:
        return self.attempts[-1].status if self.attempts else None


@dataclass
class SandboxState:
    server_id: int = 1
    streams: dict[str, str] = field(
        default_factory=lambda: {
            DEFAULT_STREAM: "Transactional",
            "broadcast": "Broadcasts",
            "inbound": "Inbound",
        }
    )
    messages: list[SentMessage] = field(default_factory=list)
    bounces: dict[int, Bounce] = field(default_factory=dict)
    suppressions: dict[tuple[str, str], Suppression] = field(default_factory=dict)
    webhook_deliveries: list[WebhookDelivery] = field(default_factory=list)
    lock: threading.RLock = field(default_factory=threading.RLock)
    # Bounce IDs start from the clock in milliseconds, so that a restarted sandbox never reuses
    # an ID that an app already stored (the app keys its Bounce rows on Postmark's ID).
    _next_bounce_id: int = field(default_factory=lambda: int(time.time() * 1000))
    _next_delivery_id: int = 1

    def add_message(self, message: SentMessage) -> None:
        with self.lock:
            self.messages.append(message)

    def add_bounce(self, bounce_type: BounceType, message: SentMessage, email: str) -> Bounce:
        with self.lock:
            bounce = Bounce(
                self._next_bounce_id, bounce_type, message, email, now(), bounce_type.deactivates
            )
            self._next_bounce_id += 1
            self.bounces[bounce.id] = bounce
            if bounce_type.deactivates:
                self.suppress(email, message.stream, bounce_type.suppression_reason, "Recipient")
            return bounce

    def suppress(self, email: str, stream: str, reason: str, origin: str) -> Suppression:
        with self.lock:
            key = (stream, email.lower())
            existing = self.suppressions.get(key)
            if existing is None:
                existing = Suppression(email.lower(), stream, reason, origin, now())
                self.suppressions[key] = existing
            return existing

    def unsuppress(self, email: str, stream: str) -> Suppression | None:
        with self.lock:
            removed = self.suppressions.pop((stream, email.lower()), None)
            if removed is not None:
                # Reactivating an address makes its bounces active again, as in Postmark.
                for bounce in self.bounces.values():
                    if bounce.email == removed.email and bounce.message.stream == stream:
                        bounce.inactive = False
            return removed

    def is_suppressed(self, email: str, stream: str) -> bool:
        with self.lock:
            return (stream, email.lower()) in self.suppressions

    def new_delivery(self, record_type: str, url: str, payload: dict[str, Any]) -> WebhookDelivery:
        with self.lock:
            delivery = WebhookDelivery(self._next_delivery_id, record_type, url, payload)
            self._next_delivery_id += 1
            self.webhook_deliveries.append(delivery)
            return delivery

    def snapshot(self) -> dict[str, list[Any]]:
        """Copies of the lists, so that a page can render without holding the lock."""
        with self.lock:
            return {
                "messages": list(self.messages),
                "bounces": list(self.bounces.values()),
                "suppressions": list(self.suppressions.values()),
                "webhook_deliveries": list(self.webhook_deliveries),
            }
