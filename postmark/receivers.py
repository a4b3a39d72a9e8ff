"""The default receivers. ``PostmarkConfig.ready()`` connects every one of them; each does its
work only while its setting is on, read when it runs, so that ``override_settings`` (or a
setting changed at run time) switches it."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Sequence
from functools import cache
from typing import Any, TypeVar

from django.core.mail import EmailMessage
from django.db import IntegrityError, router, transaction
from django.utils import timezone

from .api.spec import DEFAULT_STREAM
from .conf import settings
from .events import (
    BounceEvent,
    ClickEvent,
    DeliveryEvent,
    OpenEvent,
    SpamComplaintEvent,
    SubscriptionChangeEvent,
)
from .inbound.intake import keep
from .models import Bounce, Message, Suppression
from .queue.queueing import schedule_settling
from .results import PostmarkResult
from .sending.addresses import bare_address
from .sending.message_log import log_sent
from .sending.recipients import set_suppressed
from .storage import statements

Receiver = TypeVar("Receiver", bound=Callable[..., None])


def honouring(setting: str) -> Callable[[Receiver], Receiver]:
    """The receiver does nothing while the Django setting ``setting`` is off."""

    def decorate(receiver: Receiver) -> Receiver:
        @functools.wraps(receiver)
        def run(*args: Any, **kwargs: Any) -> None:
            if getattr(settings, setting):
                receiver(*args, **kwargs)

        return run  # type: ignore[return-value]

    return decorate


@honouring("POSTMARK_STORE_MESSAGES")
def store_sent_messages(
    sender: Any, messages: Sequence[EmailMessage], results: Sequence[PostmarkResult], **kwargs: Any
) -> None:
    """``post_send``: one ``Message`` row per message (per recipient of a Bulk API message),
    one bulk insert per API call (``postmark.sending.message_log``); the rows whose outcome is
    unknown are settled later (``postmark.tasks.settle_task``)."""
    unknown = log_sent(messages, results)
    if unknown:
        schedule_settling(unknown)


# --- Webhook receivers ---------------------------------------------------------------------------
# Each runs inside the transaction that stores the webhook (postmark.webhooks): one statement
# each, upserts on unique keys, so a redelivered or replayed event rewrites the same rows.

#: How far along its lifecycle each Message status is; an event only moves a message forward
#: (an Open that arrives before its Delivery leaves the message "opened").
_PROGRESS = {"delivered": 1, "opened": 2, "clicked": 3, "bounced": 4, "complained": 5}
#: The status (and its timestamp) each event class moves a message to. Looked up along the
#: event's MRO, as ``signals.signal_for`` does: a project's subclass of an event class counts as
#: that class, whatever its name.
_STATUS_BY_EVENT: dict[type, tuple[str, str]] = {
    DeliveryEvent: ("delivered", "delivered_at"),
    OpenEvent: ("opened", "opened_at"),
    ClickEvent: ("clicked", "clicked_at"),
    BounceEvent: ("bounced", "bounced_at"),
    SpamComplaintEvent: ("complained", "complained_at"),
}
#: Every Bounce column a newer copy of the bounce rewrites (all but the keys and created_at).
_BOUNCE_UPDATED = [
    "record_type",
    "type",
    "type_code",
    "name",
    "message",
    "server_id",
    "message_stream",
    "email",
    "from_email",
    "subject",
    "tag",
    "description",
    "details",
    "bounced_at",
    "inactive",
    "can_activate",
    "dump_available",
    "content",
    "metadata",
    "updated_at",
]


@honouring("POSTMARK_STORE_EVENTS")
def store_bounce(sender: Any, event: Any, **kwargs: Any) -> None:
    """``bounce_received``, ``spam_complaint_received``: upsert the ``Bounce`` row (keyed on
    Postmark's ID) and, for a failed delivery, mark its ``Message`` bounced or complained."""
    row = {
        "postmark_id": event.id,
        "record_type": event.record_type or "Bounce",
        "type": event.type,
        "type_code": event.type_code,
        "name": event.name,
        "message": event.message_id,
        "server_id": event.server_id,
        "message_stream": event.message_stream,
        "email": event.email,
        "from_email": event.from_email,
        "subject": event.subject,
        "tag": event.tag,
        "description": event.description,
        "details": event.details,
        "bounced_at": event.bounced_at,
        "inactive": event.inactive,
        "can_activate": event.can_activate,
        "dump_available": event.dump_available,
        "content": event.content,
        "metadata": event.metadata,
    }
    statements.upsert(Bounce, row, ["postmark_id"], _BOUNCE_UPDATED)
    if event.failed_delivery:
        advance_message(event, event.bounced_at)


@honouring("POSTMARK_STORE_EVENTS")
def track_message_status(sender: Any, event: Any, **kwargs: Any) -> None:
    """``delivery_received``, ``open_received``, ``click_received``: move the ``Message`` on."""
    when = getattr(event, "delivered_at", None) or getattr(event, "received_at", None)
    advance_message(event, when)


def advance_message(event: Any, when: Any) -> None:
    """One UPDATE: the status moves forward only, and the first timestamp of each kind stays."""
    moves_to = next(
        (_STATUS_BY_EVENT[k] for k in type(event).__mro__ if k in _STATUS_BY_EVENT), None
    )
    if event.message_id is None or moves_to is None:
        return
    link_id = _link_id(event)
    if link_id is not None:
        _link(link_id, event.message_id)
    status, stamp = moves_to
    behind = _statuses_behind(status)
    now = timezone.now()
    statements.update_one(
        Message,
        ("message_id", event.message_id),
        advance=("status", behind, status),
        first={stamp: when or now},
        set_={"updated_at": now},
    )


def _link_id(event: Any) -> uuid.UUID | None:
    value = (getattr(event, "metadata", None) or {}).get(settings.POSTMARK_LINK_FIELD)
    try:
        return uuid.UUID(str(value)) if value else None
    except ValueError:
        return None


def _link(link_id: uuid.UUID, message_id: uuid.UUID) -> None:
    """A row without its MessageID (a Bulk API recipient's, or one whose send's answer was
    lost) learns it from the first webhook that names both (its generated id came back in the
    Metadata), so that this and every later event, and the Bounce rows, find it by MessageID."""
    try:
        # A savepoint: a MessageID some other row already holds must not break the webhook's
        # transaction (that row keeps it; this event then updates it alone).
        with transaction.atomic(using=router.db_for_write(Message)):
            # An unknown row's kept request goes too: Postmark had the message after all.
            Message.objects.filter(link_id=link_id, message_id__isnull=True).update(
                message_id=message_id, payload=""
            )
    except IntegrityError:
        pass


@cache
def _statuses_behind(status: str) -> tuple[str, ...]:
    return tuple(s for s in Message.Status.values if _PROGRESS.get(s, 0) < _PROGRESS[status])


@honouring("POSTMARK_RECORD_SUPPRESSIONS")
def record_suppressions(sender: Any, event: Any, **kwargs: Any) -> None:
    """``bounce_received``, ``spam_complaint_received``, ``subscription_change_received``: keep
    ``Suppression`` rows as Postmark keeps its suppression list.

    One upsert each, which changes the row only if the event is not older than the last one of
    its kind (suppression or lift): webhooks may arrive out of order.
    """
    stream = event.message_stream or DEFAULT_STREAM
    if isinstance(event, SubscriptionChangeEvent):
        email, when = event.recipient, event.changed_at
        if not event.suppress_sending:
            if email:
                lift = {
                    "email": email.lower(),
                    "message_stream": stream,
                    "lifted_at": when or timezone.now(),
                }
                keys = ["email", "message_stream"]
                statements.upsert(Suppression, lift, keys, ["lifted_at"], newer="lifted_at")
            return
        reason = event.suppression_reason or Suppression.Reason.MANUAL
        origin = event.origin
    elif isinstance(event, SpamComplaintEvent):
        email, when = event.email, event.bounced_at
        reason, origin = Suppression.Reason.SPAM_COMPLAINT, Suppression.Origin.RECIPIENT
    elif event.inactive:
        email, when = event.email, event.bounced_at
        reason = (
            Suppression.Reason.MANUAL
            if event.type == "ManuallyDeactivated"
            else Suppression.Reason.HARD_BOUNCE
        )
        origin = Suppression.Origin.RECIPIENT
    else:
        return
    if not email:
        return  # an Unsubscribe bounce has arrived without an Email
    row = {
        "email": email.lower(),
        "message_stream": stream,
        "reason": reason,
        "origin": origin,
        "suppressed_at": when or timezone.now(),
    }
    updated = ["reason", "origin", "suppressed_at"]
    statements.upsert(Suppression, row, ["email", "message_stream"], updated, newer="suppressed_at")


@honouring("POSTMARK_INBOUND_STORE")
def store_inbound_message(sender: Any, event: Any, webhook_event: Any, **kwargs: Any) -> None:
    """``inbound_received``: keep the message as an ``InboundMessage`` (once per MessageID),
    and have it routed and processed once the webhook's row is committed (``postmark.inbound``).
    """
    keep(event, webhook_event)


@honouring("POSTMARK_SKIP_SUPPRESSED")
def skip_suppressed_recipients(
    sender: Any, messages: Sequence[EmailMessage], **kwargs: Any
) -> None:
    """``pre_send``: drop suppressed recipients, with one query for the whole API call.

    The dropped addresses are listed on the message as ``suppressed_recipients``; a message left
    with none gets a "suppressed" result from the backend and is not sent.
    """
    default_stream = settings.POSTMARK_MESSAGE_STREAM or DEFAULT_STREAM

    def stream_of(message: EmailMessage) -> str:
        return getattr(message, "message_stream", None) or default_stream

    addresses = {bare_address(r) for message in messages for r in message.recipients()}
    addresses.discard("")
    if not addresses:
        return
    streams = {stream_of(message) for message in messages}
    suppressed = set(
        Suppression.objects.active()
        .filter(email__in=addresses, message_stream__in=streams)
        .values_list("email", "message_stream")
    )
    if not suppressed:
        return
    for message in messages:
        stream = stream_of(message)
        dropped: list[str] = []
        for kind in ("to", "cc", "bcc"):
            recipients = list(getattr(message, kind) or [])
            kept = [r for r in recipients if (bare_address(r), stream) not in suppressed]
            if len(kept) != len(recipients):
                dropped.extend(r for r in recipients if (bare_address(r), stream) in suppressed)
                setattr(message, kind, kept)
        if dropped:
            set_suppressed(message, dropped)
