"""The ``Message`` log's rows for what ``post_send`` reports: one per message, one per recipient
of a Bulk API message, written with one insert per API call whatever the messages hold (address
pairs, NUL, which ``postmark.storable`` cleans, or a MessageID Postmark gave twice)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from django.core.mail import EmailMessage
from django.db import IntegrityError

from . import sql
from .addresses import format_address
from .conf import settings
from .exceptions import UnsupportedMessageError
from .facts import DEFAULT_STREAM
from .merge import LINK_KEY, per_recipient
from .message import Defaults, server_label
from .models import Message
from .payload import metadata_of
from .results import PostmarkResult, Status

_SENT, _SUPPRESSED = Status.SENT, Status.SUPPRESSED


def log_sent(messages: Sequence[EmailMessage], results: Sequence[PostmarkResult]) -> None:
    defaults = Defaults.from_settings()
    store_bodies = settings.POSTMARK_STORE_BODIES
    rows = []
    for message, result in zip(messages, results, strict=True):
        row = _message_row(message, result, defaults, store_bodies)
        link_ids = getattr(message, "postmark_link_ids", None)
        if link_ids:
            rows.extend(_bulk_rows(row, message, result, link_ids))
        else:
            rows.append(row)
    _one_row_per_message_id(rows)
    try:
        sql.bulk_insert(Message, rows)
    except IntegrityError:
        # A MessageID the log already holds (Postmark answered it for an earlier call too):
        # those rows are kept without it rather than the call's rows lost.
        if not _without_logged_message_ids(rows):
            raise
        sql.bulk_insert(Message, rows)


def _message_row(
    message: EmailMessage, result: PostmarkResult, defaults: Defaults, store_bodies: bool
) -> dict[str, Any]:
    metadata = {**defaults.metadata, **(getattr(message, "metadata", None) or {})}
    # Set by skip_suppressed_recipients: the log says who was left out and why.
    suppressed = getattr(message, "suppressed_recipients", None) or []
    # Postmark's text also matters for an accepted message when it dropped inactive addresses.
    error = result.message if result.status != _SENT or result.inactive_recipients else ""
    if suppressed:
        error = f"{error} Suppressed recipients: {_addresses(suppressed)}.".strip()
    row = {
        "message_id": _uuid_or_none(result.message_id),
        "status": result.status,
        # The stream it went on: Postmark sends a message that names none on the server's
        # default stream, "outbound", which its webhooks then name.
        "message_stream": getattr(message, "message_stream", None)
        or defaults.message_stream
        or DEFAULT_STREAM,
        "from_email": _address(message.from_email or ""),
        "to": _addresses(message.to)
        or (_addresses(suppressed) if result.status == _SUPPRESSED else ""),
        "cc": _addresses(message.cc),
        "bcc": _addresses(message.bcc),
        "subject": str(message.subject or ""),
        "tag": getattr(message, "tag", None) or defaults.tag or "",
        # The strings Postmark was sent, so that the column always holds valid JSON.
        "metadata": {str(k): "" if v is None else str(v) for k, v in metadata.items()},
        "submitted_at": result.submitted_at,
        "error_code": result.error_code or None,
        "error": error,
        "server": server_label(getattr(message, "server_token", None)),
        "bulk_request_id": result.bulk_request_id or "",
    }
    if store_bodies:
        bodies = _bodies(message)
        row["text_body"] = bodies.get("text/plain", "")
        row["html_body"] = bodies.get("text/html", "")
    return row


def _bulk_rows(
    row: dict[str, Any], message: EmailMessage, result: PostmarkResult, link_ids: dict[Any, str]
) -> list[dict[str, Any]]:
    """A Bulk API message's rows: one per recipient, with its generated link id (in its
    Metadata too, as Postmark was sent it)."""
    rows = []
    for address, link_id in link_ids.items():
        own = per_recipient(message, "merge_metadata", address)
        metadata = {**row["metadata"], **metadata_of(own)}
        metadata[LINK_KEY] = link_id
        rows.append(
            {**row, "to": _address(address), "metadata": metadata, "link_id": uuid.UUID(link_id)}
        )
    return rows


def _one_row_per_message_id(rows: list[dict[str, Any]]) -> None:
    # Postmark has answered one MessageID for two messages of a batch: the unique key would
    # refuse the whole insert. The second row keeps the id in its error text instead.
    seen: set[uuid.UUID] = set()
    for row in rows:
        message_id = row["message_id"]
        if message_id is None:
            continue
        if message_id in seen:
            row["message_id"] = None
            row["error"] = f"{row['error']} Postmark gave MessageID {message_id} twice.".strip()
        seen.add(message_id)


def _without_logged_message_ids(rows: list[dict[str, Any]]) -> bool:
    ids = [row["message_id"] for row in rows if row["message_id"] is not None]
    logged = set(Message.objects.filter(message_id__in=ids).values_list("message_id", flat=True))
    for row in rows:
        if row["message_id"] in logged:
            row["error"] = (
                f"{row['error']} MessageID {row['message_id']} was logged before.".strip()
            )
            row["message_id"] = None
    return bool(logged)


def _address(address: Any) -> str:
    # Django takes (name, address) pairs in to/cc/bcc; the log writes them as Postmark did.
    if isinstance(address, str):
        return address
    try:
        return format_address(address)
    except (UnsupportedMessageError, TypeError, ValueError):
        # A pair Postmark refused (the message was not sent): logged as it was given.
        if isinstance(address, tuple | list) and len(address) == 2:
            return f"{address[0]} <{address[1]}>"
        return str(address)


def _addresses(addresses: Sequence[Any]) -> str:
    return ", ".join(_address(address) for address in addresses)


def _uuid_or_none(value: str | None) -> uuid.UUID | None:
    # A MessageID that is not a UUID must not make the log fail after the mail has gone.
    try:
        return uuid.UUID(str(value)) if value else None
    except ValueError:
        return None


def _bodies(message: EmailMessage) -> dict[str, str]:
    bodies = {f"text/{message.content_subtype}": str(message.body or "")}
    for alternative in getattr(message, "alternatives", None) or []:
        content, mimetype = alternative[0], alternative[1]
        text = content.decode() if isinstance(content, bytes) else str(content)
        bodies.setdefault(mimetype, text)
    return bodies
