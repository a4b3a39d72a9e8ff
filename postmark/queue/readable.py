"""Reading a batch row's messages safely: each entry checked against what
``envelope.message_entry`` writes before the worker sends it or ``postmark_recover`` settles it.

A row may hold something else: edited by hand, cut short, or written by a later release (another
envelope version). Such a row must not stop the worker or recovery (an exception there would
leave it, and on every later run each row after it, unsettled): ``read_batch`` raises
``UnreadableBatch`` saying what is wrong, the caller marks the row with that reason, and goes on.
"""

from __future__ import annotations

import logging
import reprlib
import uuid
from collections.abc import Callable
from typing import Any

from django.core.mail import EmailMessage
from django.utils import timezone

from ..models import Message, QueuedBatch
from ..results import Status
from .envelope import ENVELOPE_VERSION, rebuild_messages

logger = logging.getLogger("postmark.tasks")

#: The log's error_code column is a 32-bit integer.
_MAX_CODE = 2**31 - 1
#: An error kept on a row or logged quotes at most this much of what it found.
_MAX_REASON = 500
#: Link ids per query when marking an unreadable row's log rows (under every database's limit).
_IDS_PER_QUERY = 500

# Enough of a value to recognise it by, never all of a huge or deeply nested one.
_SHOWN = reprlib.Repr()
_SHOWN.maxlevel, _SHOWN.maxstring, _SHOWN.maxother, _SHOWN.maxlist, _SHOWN.maxdict = 3, 60, 60, 4, 4

_ENTRY_KEYS = frozenset({"envelope", "payload", "result"})
_ENVELOPE_REQUIRED = frozenset(("from_email", "to", "cc", "bcc", "reply_to", "subject", "options"))
_BODY_KEYS = frozenset(("body", "content_subtype", "alternatives"))
_ENVELOPE_KEYS = (
    _ENVELOPE_REQUIRED
    | _BODY_KEYS
    | {
        "version",
        "suppressed_recipients",
        "link_ids",
        "merge_metadata",
        "server",
        "log_id",
    }
)
_OPTION_KEYS = frozenset(
    ("tag", "metadata", "message_stream", "template_id", "template_alias", "bulk")
)
_RESULT_KEYS = frozenset(
    (
        "status",
        "message_id",
        "submitted_at",
        "recipients",
        "error_code",
        "message",
        "inactive_recipients",
        "bulk_request_id",
    )
)


class UnreadableBatch(Exception):
    """A batch row's messages are not what this release writes; the text says where and how."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason[:_MAX_REASON])


def load_messages(batch_id: str) -> object:
    """A batch row's messages as stored; UnreadableBatch when they cannot even be decoded (JSON
    nested deeper than Python recurses, an integer longer than it reads)."""
    try:
        return QueuedBatch.objects.values_list("messages", flat=True).get(pk=batch_id)
    except (ValueError, RecursionError) as exc:  # not a database error: those propagate
        raise UnreadableBatch(f"its messages cannot be decoded ({type(exc).__name__})") from exc


def read_batch(raw: object) -> list[EmailMessage]:
    """The row's messages, rebuilt; UnreadableBatch when its JSON is not what this release
    writes (or cannot be rebuilt for any other reason)."""
    entries = _checked_entries(raw)
    try:
        return rebuild_messages(entries)
    except Exception as exc:  # a shape the checks let through, which the rebuild trips on
        raise UnreadableBatch(
            f"its messages cannot be rebuilt ({type(exc).__name__}: {exc!s:.200})"
        ) from exc


def log_ids_in(raw: object) -> list[uuid.UUID]:
    """The link ids of the log rows written for an unreadable row's messages, as far as they
    can be found in it (so that those rows can be marked too)."""
    found: list[uuid.UUID] = []
    for entry in raw if isinstance(raw, list) else []:
        envelope = entry.get("envelope") if isinstance(entry, dict) else None
        if not isinstance(envelope, dict):
            continue
        links = envelope.get("link_ids")
        pairs = links if isinstance(links, list) else []
        for value in [envelope.get("log_id"), *(p[1] for p in pairs if _is_pair(p))]:
            try:
                found.append(uuid.UUID(value))
            except (TypeError, ValueError, AttributeError):
                continue
    return found


def _checked_entries(raw: object) -> list[dict[str, Any]]:
    if not isinstance(raw, list):
        raise UnreadableBatch(f"it holds {_shown(raw)} where a list of messages belongs")
    if not raw:
        raise UnreadableBatch("it holds no messages")
    for position, entry in enumerate(raw):
        _check_entry(entry, f"message {position}")
    return raw


def _check_entry(entry: object, where: str) -> None:
    if not isinstance(entry, dict):
        raise UnreadableBatch(f"{where} is {_shown(entry)}, not an object")
    _check_keys(entry, _ENTRY_KEYS, _ENTRY_KEYS, where)
    envelope, payload, result = entry["envelope"], entry["payload"], entry["result"]
    if not isinstance(envelope, dict):
        raise UnreadableBatch(f"{where}: its envelope is {_shown(envelope)}, not an object")
    version = envelope.get("version", ENVELOPE_VERSION)
    if type(version) is not int or version != ENVELOPE_VERSION:
        raise UnreadableBatch(
            f"{where}: envelope version {_shown(version)}; this release reads version "
            f"{ENVELOPE_VERSION} (was the row written by a later release?)"
        )
    required = _ENVELOPE_REQUIRED | (_BODY_KEYS if payload is None else frozenset())
    _check_keys(envelope, required, _ENVELOPE_KEYS, f"{where}: its envelope")
    _check_envelope(envelope, f"{where}: {{}}")
    if payload is not None:
        if not isinstance(payload, dict):
            raise UnreadableBatch(f"{where}: its payload is {_shown(payload)}, not an object")
        for body in ("TextBody", "HtmlBody"):
            _check(payload.get(body), _text_or_none, f"{where}: payload {body}")
    if result is None:
        if payload is None:
            raise UnreadableBatch(f"{where}: it has neither a payload to send nor a result")
        return
    if not isinstance(result, dict):
        raise UnreadableBatch(f"{where}: its result is {_shown(result)}, not an object")
    _check_keys(result, frozenset({"status"}), _RESULT_KEYS, f"{where}: its result")
    _check(result["status"], lambda v: v in Status.values, f"{where}: result status")
    for name in ("message_id", "submitted_at", "message", "bulk_request_id"):
        _check(result.get(name), _text_or_none, f"{where}: result {name}")
    for name in ("recipients", "inactive_recipients"):
        _check(result.get(name), _addresses_or_none, f"{where}: result {name}")
    _check(result.get("error_code"), _code_or_none, f"{where}: result error_code")


def _check_envelope(envelope: dict[str, Any], where: str) -> None:
    _check(envelope["from_email"], _is_address, where.format("from_email"))
    for kind in ("to", "cc", "bcc", "reply_to", "suppressed_recipients"):
        _check(envelope.get(kind, []), _is_addresses, where.format(kind))
    _check(envelope["subject"], _is_text, where.format("subject"))
    for name in ("server", "body", "content_subtype"):
        _check(envelope.get(name, ""), _is_text, where.format(name))
    _check(envelope.get("log_id"), _uuid_or_none, where.format("log_id"))
    alternatives = envelope.get("alternatives", [])
    _check(
        alternatives,
        lambda v: isinstance(v, list) and all(_is_pair(a) for a in v),
        where.format("alternatives"),
    )
    links = envelope.get("link_ids", [])
    _check(
        links,
        lambda v: (
            isinstance(v, list)
            and all(_is_pair(p, first=_is_address) and _uuid_or_none(p[1]) for p in v)
        ),
        where.format("link_ids"),
    )
    merge = envelope.get("merge_metadata", {})
    _check(
        merge,
        lambda v: isinstance(v, dict) and all(_is_metadata(m) for m in v.values()),
        where.format("merge_metadata"),
    )
    options = envelope["options"]
    if not isinstance(options, dict):
        raise UnreadableBatch(f"{where.format('options')} are {_shown(options)}, not an object")
    _check_keys(options, frozenset(), _OPTION_KEYS, where.format("options"))
    for name, value in options.items():
        valid = _is_metadata if name == "metadata" else _is_scalar
        _check(value, valid, where.format(f"option {name}"))


# --- The checks of single values -----------------------------------------------------------------


def _check(value: object, valid: Callable[[Any], bool], what: str) -> None:
    if not valid(value):
        raise UnreadableBatch(f"{what} is {_shown(value)}, which this release does not write")


def _check_keys(
    mapping: dict[Any, Any], required: frozenset[str], allowed: frozenset[str], where: str
) -> None:
    missing = sorted(required - mapping.keys())
    if missing:
        raise UnreadableBatch(f"{where} lacks {', '.join(missing)}")
    unknown = [key for key in mapping if key not in allowed]
    if unknown:
        raise UnreadableBatch(
            f"{where} has {_shown(unknown[0])}, which this release does not write"
        )


def _is_text(value: object) -> bool:
    return isinstance(value, str)


def _text_or_none(value: object) -> bool:
    return value is None or isinstance(value, str)


def _addresses_or_none(value: object) -> bool:
    return value is None or _is_addresses(value)


def _is_scalar(value: object) -> bool:
    return value is None or isinstance(value, str | int)


def _code_or_none(value: object) -> bool:
    return value is None or (
        type(value) is int and -_MAX_CODE - 1 <= value <= _MAX_CODE  # not a bool, fits the log
    )


def _uuid_or_none(value: object) -> bool:
    if value is None:
        return True
    if not isinstance(value, str):  # what uuid.UUID would refuse with a TypeError
        return False
    try:
        uuid.UUID(value)
    except (TypeError, ValueError, AttributeError):
        return False
    return True


def _is_pair(value: object, first: Callable[[Any], bool] = _is_text) -> bool:
    return isinstance(value, list) and len(value) == 2 and first(value[0]) and _is_text(value[1])


def _is_address(value: object) -> bool:
    # As message_entry keeps them: "Name <a@example.com>", or a [name, address] pair.
    return isinstance(value, str) or _is_pair(value)


def _is_addresses(value: object) -> bool:
    return isinstance(value, list) and all(_is_address(address) for address in value)


def _is_metadata(value: object) -> bool:
    return isinstance(value, dict) and all(isinstance(v, str) for v in value.values())


def _shown(value: object) -> str:
    try:
        return _SHOWN.repr(value)
    except ValueError:  # an integer longer than Python will write out
        return f"a {type(value).__name__} too long to show"


def mark_unreadable(row: QueuedBatch, raw: object, error: UnreadableBatch, state: str) -> None:
    """Settle a row that cannot be read, keeping it (for a person to repair or delete) with the
    reason: "failed" when nothing was sent, "unknown" when a worker may have sent it. The log
    rows still "queued" for its messages, as far as the row names them, say the same."""
    reason = f"This batch's row cannot be read: {error}. " + (
        "Nothing was sent."
        if state == QueuedBatch.State.FAILED
        else "Postmark may have accepted its messages: check its activity before sending again."
    )
    now = timezone.now()
    row.state, row.error, row.finished_at = state, reason, now
    row.save(update_fields=["state", "error", "finished_at"])
    ids = log_ids_in(raw)
    for start in range(0, len(ids), _IDS_PER_QUERY):
        Message.objects.filter(
            link_id__in=ids[start : start + _IDS_PER_QUERY], status=Message.Status.QUEUED
        ).update(status=state, error=reason, updated_at=now)
    logger.error("Batch %s cannot be read (%s); marked %s.", row.pk, error, state)
