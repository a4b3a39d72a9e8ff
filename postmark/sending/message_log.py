"""The ``Message`` log's rows for what ``post_send`` reports: one per message, one per recipient
of a Bulk API message, written with one statement per API call whatever the messages hold
(address pairs, NUL, which ``postmark.storage.values`` cleans, or a MessageID Postmark gave twice).

A queued message's rows are written when it is queued (``log_queued``, status "queued"), each
with a ``link_id``; the worker's ``post_send`` then updates those same rows with the outcome,
found by that id, rather than adding others.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from django.core.mail import EmailMessage
from django.db import IntegrityError, router, transaction

from ..api.spec import DEFAULT_STREAM
from ..conf import settings
from ..exceptions import UnsupportedMessageError
from ..message import Defaults, server_label
from ..models import Message
from ..results import PostmarkResult, Status
from ..storage import statements
from .addresses import format_address
from .payload import metadata_of
from .recipients import LINK_KEY, known_state, per_recipient, result_of

_SENT, _SUPPRESSED = Status.SENT, Status.SUPPRESSED
#: Link ids looked up per query (a Bulk API message may have thousands of recipients; SQLite
#: takes at most 999 parameters a statement on older builds).
_IDS_PER_QUERY = 500
#: What a send changes on a row written when its message was queued (the rest was known then).
OUTCOME_FIELDS = ("status", "message_id", "submitted_at", "error_code", "error", "bulk_request_id")


def log_queued(logged: Sequence[tuple[EmailMessage, str | None]]) -> None:
    """Rows for messages just queued, each (message, the id of its row; None for a Bulk API
    message, whose rows are its recipients' link ids), with the result each has now."""
    rows = _rows([(message, result_of(message), log_id) for message, log_id in logged])
    statements.bulk_insert(Message, rows)


def log_sent(messages: Sequence[EmailMessage], results: Sequence[PostmarkResult]) -> None:
    # A message rebuilt by the queue's worker names the row written when it was queued.
    rows = _rows(
        [
            (message, result, state.log_id if (state := known_state(message)) else None)
            for message, result in zip(messages, results, strict=True)
        ]
    )
    _one_row_per_message_id(rows)
    try:
        _write(rows)
    except IntegrityError:
        # A MessageID the log already holds (Postmark answered it for an earlier call too):
        # those rows are kept without it rather than the call's rows lost.
        if not _without_logged_message_ids(rows):
            raise
        _write(rows)


def _rows(
    logged: Sequence[tuple[EmailMessage, PostmarkResult, str | None]],
) -> list[dict[str, Any]]:
    defaults = Defaults.from_settings()
    store_bodies = settings.POSTMARK_STORE_BODIES
    rows = []
    for message, result, log_id in logged:
        row = _message_row(message, result, defaults, store_bodies)
        link_ids = state.link_ids if (state := known_state(message)) else None
        if log_id:
            rows.append({**row, "link_id": uuid.UUID(log_id)})
        elif link_ids:
            rows.extend(_bulk_rows(row, message, result, link_ids))
        else:
            rows.append(row)
    return rows


def _write(rows: list[dict[str, Any]]) -> None:
    """Update the rows the log holds already (by link id: written when queued), insert the rest."""
    linked = [row["link_id"] for row in rows if row.get("link_id") is not None]
    held: set[uuid.UUID | None] = set()
    for start in range(0, len(linked), _IDS_PER_QUERY):
        chunk = linked[start : start + _IDS_PER_QUERY]
        held.update(Message.objects.filter(link_id__in=chunk).values_list("link_id", flat=True))
    if not held:  # PostmarkBackend's sends: every row is new
        statements.bulk_insert(Message, rows)
        return
    with transaction.atomic(using=router.db_for_write(Message)):
        statements.update_rows(
            Message, "link_id", [row for row in rows if row.get("link_id") in held], OUTCOME_FIELDS
        )
        statements.bulk_insert(Message, [row for row in rows if row.get("link_id") not in held])


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
    # Held by another row: the row being updated (by its link id) may hold it already.
    holders = dict(Message.objects.filter(message_id__in=ids).values_list("message_id", "link_id"))
    logged = False
    for row in rows:
        message_id = row["message_id"]
        if message_id in holders and (
            holders[message_id] is None or holders[message_id] != row.get("link_id")
        ):
            row["error"] = f"{row['error']} MessageID {message_id} was logged before.".strip()
            row["message_id"] = None
            logged = True
    return logged


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
