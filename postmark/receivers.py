"""The default receivers. ``PostmarkConfig.ready()`` connects each one whose setting is on."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.core.mail import EmailMessage
from django.utils import timezone

from .conf import settings
from .message import PostmarkResult


def store_sent_messages(
    sender: Any, messages: Sequence[EmailMessage], results: Sequence[PostmarkResult], **kwargs: Any
) -> None:
    """``post_send``: one ``Message`` row per message, one bulk insert per API call."""
    from .models import Message

    store_bodies = settings.POSTMARK_STORE_BODIES
    now = timezone.now()
    rows = [_message_row(m, r, store_bodies, now) for m, r in zip(messages, results, strict=True)]
    Message.objects.bulk_create(rows)


def _message_row(message: EmailMessage, result: PostmarkResult, store_bodies: bool, now: Any) -> Any:
    from .models import Message

    row = Message(
        message_id=result.message_id,
        status=result.status,
        message_stream=getattr(message, "message_stream", None) or settings.POSTMARK_MESSAGE_STREAM or "",
        from_email=str(message.from_email or ""),
        to=", ".join(message.to),
        cc=", ".join(message.cc),
        bcc=", ".join(message.bcc),
        subject=str(message.subject or ""),
        tag=getattr(message, "tag", None) or settings.POSTMARK_TAG or "",
        metadata={**settings.POSTMARK_METADATA, **(getattr(message, "metadata", None) or {})},
        submitted_at=result.submitted_at,
        error_code=result.error_code or None,
        error=result.message if result.status != "sent" or result.inactive_recipients else "",
        created_at=now,
    )
    if store_bodies:
        bodies = _bodies(message)
        row.text_body, row.html_body = bodies.get("text/plain", ""), bodies.get("text/html", "")
    return row


def _bodies(message: EmailMessage) -> dict[str, str]:
    bodies = {f"text/{message.content_subtype}": str(message.body or "")}
    for alternative in getattr(message, "alternatives", None) or []:
        content, mimetype = alternative[0], alternative[1]
        bodies.setdefault(mimetype, content.decode() if isinstance(content, bytes) else str(content))
    return bodies
