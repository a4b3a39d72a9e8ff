"""The ``Message`` log's rows for what ``post_send`` reports: one per message, one per recipient
of a Bulk API message, written with one statement per API call whatever the messages hold
(address pairs, NUL, which ``postmark.storage.values`` cleans, or a MessageID Postmark gave twice).

Every row has the ``link_id`` its message carried in its Metadata. A queued message's rows are
written when it is queued (``log_queued``, status "queued"); the worker's ``post_send`` then
updates those same rows with the outcome, found by that id, rather than adding others. A row
whose outcome is unknown also keeps the request that carried it (``payload``) and when that was
(``unknown_since``), for ``postmark.operations.settle``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from typing import Any

from django.core.mail import EmailMessage
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, router, transaction
from django.utils import timezone

from ..api.spec import DEFAULT_STREAM
from ..conf import settings
from ..exceptions import UnsupportedMessageError
from ..message import Defaults, server_label
from ..models import Message
from ..results import PostmarkResult, Status
from ..storage import statements
from .addresses import format_address
from .metadata import metadata_of
from .recipients import known_state, per_recipient, result_of

_SENT, _SUPPRESSED, _UNKNOWN = Status.SENT, Status.SUPPRESSED, Status.UNKNOWN
#: Link ids looked up per query (a Bulk API message may have thousands of recipients; SQLite
#: takes at most 999 parameters a statement on older builds).
_IDS_PER_QUERY = 500
#: What a send changes on a row written when its message was queued (the rest was known then).
OUTCOME_FIELDS = (
    "status",
    "message_id",
    "submitted_at",
    "error_code",
    "error",
    "bulk_request_id",
    "payload",
    "unknown_since",
)


def log_queued(logged: Sequence[tuple[EmailMessage, str | None]]) -> None:
    """Rows for messages just queued, each (message, the id of its row: the one in its payload's
    Metadata; None for a Bulk API message, whose rows are its recipients' link ids), with the
    result each has now."""
    rows = _rows([(message, result_of(message), log_id) for message, log_id in logged])
    statements.bulk_insert(Message, rows)


def log_sent(
    messages: Sequence[EmailMessage], results: Sequence[PostmarkResult]
) -> list[uuid.UUID]:
    """Log what ``post_send`` reports; return the link ids of the rows whose outcome is unknown
    (to settle). A message rebuilt by the queue's worker updates the row it was queued with."""
    # A message sent has its id on its result; one not sent (suppressed, refused) has none,
    # unless the queue's worker rebuilt it, which names the row written when it was queued.
    rows = _rows(
        [
            (
                message,
                result,
                result.link_id or (state.log_id if (state := known_state(message)) else None),
            )
            for message, result in zip(messages, results, strict=True)
        ]
    )
    _one_row_per_message_id(rows)
    # A batch's messages are all rebuilt by the worker, or none: only then may rows exist.
    first = known_state(messages[0]) if messages else None
    queued = first is not None and first.queued
    try:
        _write(rows, queued)
    except IntegrityError:
        # A MessageID the log already holds (Postmark answered it for an earlier call too):
        # those rows are kept without it rather than the call's rows lost.
        if not _without_logged_message_ids(rows):
            raise
        _write(rows, queued)
    return [row["link_id"] for row in rows if row["status"] == _UNKNOWN and row.get("link_id")]


def _rows(
    logged: Sequence[tuple[EmailMessage, PostmarkResult, str | None]],
) -> list[dict[str, Any]]:
    defaults = Defaults.from_settings()
    store_bodies = settings.POSTMARK_STORE_BODIES
    link_field = defaults.link_field
    now = timezone.now()
    rows = []
    for message, result, log_id in logged:
        row = _message_row(message, result, defaults, store_bodies)
        # What settling needs of a row whose outcome is unknown; the others keep nothing.
        unknown = result.status == _UNKNOWN
        kept = result.request if unknown else None
        row["payload"], row["unknown_since"] = "", now if unknown else None
        if log_id:
            if result.link_id:  # sent with it in its Metadata: the row says so, as Postmark has it
                row["metadata"] = {**row["metadata"], link_field: result.link_id}
            if kept is not None:
                row["payload"] = kept_payload(kept)
            row["link_id"] = uuid.UUID(log_id)
            rows.append(row)
        elif (state := known_state(message)) is not None and state.link_ids:
            rows.extend(_bulk_rows(row, state.link_ids, message, kept, link_field))
        else:
            rows.append(row)
    return rows


def kept_payload(payload: dict[str, Any]) -> str:
    """A request as a row keeps it: JSON in ASCII (each other character escaped), so that the
    storage's text rule (``postmark.storage.values``) has nothing to change in it."""
    return json.dumps(payload, cls=DjangoJSONEncoder, separators=(",", ":"))


def _write(rows: list[dict[str, Any]], queued: bool) -> None:
    """Update the rows the log holds already (by link id: written when queued), insert the rest."""
    linked = [row["link_id"] for row in rows if queued and row.get("link_id") is not None]
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
    row: dict[str, Any],
    link_ids: dict[Any, str],
    message: EmailMessage,
    payload: dict[str, Any] | None,
    key: str,
) -> list[dict[str, Any]]:
    """A Bulk API message's rows: one per recipient, with its generated link id (in its
    Metadata too, as Postmark was sent it). With the request (``payload``: the outcome is
    unknown), each row keeps a request of its own: the same, with that recipient's entry alone."""
    rows = []
    # Each recipient's entry, by the id in its Metadata (under the field it was sent with).
    ids = set(link_ids.values())
    entries = {
        value: entry
        for entry in (payload or {}).get("Messages", ())
        for value in (entry.get("Metadata") or {}).values()
        if value in ids
    }
    for address, link_id in link_ids.items():
        own = per_recipient(message, "merge_metadata", address)
        metadata = {**row["metadata"], **metadata_of(own)}
        metadata[key] = link_id
        one = {**row, "to": _address(address), "metadata": metadata, "link_id": uuid.UUID(link_id)}
        if payload is not None and link_id in entries:
            one["payload"] = kept_payload({**payload, "Messages": [entries[link_id]]})
        rows.append(one)
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
