"""Keeping inbound mail as the webhook takes it: one INSERT, inside the webhook's transaction,
and its processing scheduled (``scheduling.schedule_new``: its task in the same commit, or once
the webhook's transaction has committed).

A redelivery changes nothing: the row is keyed on Postmark's MessageID under a unique
constraint, and the INSERT of a message already kept leaves the row as it is (the database
decides, never a read before the write). A body Postmark repeats exactly does not even get
here: the webhook's own dedup (``postmark.webhooks.processing``) stops it first.
"""

from __future__ import annotations

import hashlib

from django.db import router
from django.utils import timezone

from ..conf import settings
from ..events import InboundEvent
from ..models import WebhookEvent
from ..storage import statements
from .mailboxes import safe_filename
from .record import InboundMessage
from .scheduling import schedule_new

#: How many attachment names the row lists (the count and the total size cover them all).
LISTED_ATTACHMENTS = 20
_KEY_LENGTH = InboundMessage._meta.get_field("message_id").max_length or 100


def record_key(message_id: str, body_sha256: str) -> str:
    """The row's key: the MessageID as Postmark sent it; for mail without one, the body's
    SHA-256 (each such body is its own message); for one too long for the column, its hash."""
    if not message_id:
        return f"sha256:{body_sha256}"
    if len(message_id) > _KEY_LENGTH or not message_id.isprintable():
        return "sha256:" + hashlib.sha256(message_id.encode("utf-8", "replace")).hexdigest()
    return message_id


def keep(event: InboundEvent, webhook_event: WebhookEvent) -> str:
    """Store the record of an inbound message (once) and, if routes are declared, schedule its
    processing (``scheduling.schedule_new``). Returns the record's key."""
    key = record_key(event.message_id, webhook_event.body_sha256)
    now = timezone.now()
    attachments = event.attachments
    # Without routes there is nowhere to take the mail: it is unrouted at once, and no task is
    # made (a site that only reads inbound_received needs no worker for it).
    routed = bool(settings.POSTMARK_INBOUND_ROUTES)
    row = {
        "message_id": key,
        "webhook_event": webhook_event.pk,
        "status": InboundMessage.Status.RECEIVED if routed else InboundMessage.Status.UNROUTED,
        "from_email": event.from_email,
        "to": event.to or event.original_recipient,
        "original_recipient": event.original_recipient,
        "subject": event.subject,
        "mailbox_hash": event.mailbox_hash,
        "attachment_count": len(attachments),
        # The names InboundMail.attachments gives; the sizes without decoding the content, which
        # is the worker's work.
        "attachment_names": [
            safe_filename(a.name, number)
            for number, a in enumerate(attachments[:LISTED_ATTACHMENTS], start=1)
        ],
        "attachment_bytes": sum(a.size for a in attachments),
        "received_at": now,
        "processed_at": None if routed else now,
    }
    # The key "updated" to itself: one statement that inserts or leaves the row as it was.
    statements.upsert(InboundMessage, row, ["message_id"], ["message_id"])
    if routed:
        schedule_new(key, router.db_for_write(InboundMessage))
    return key
