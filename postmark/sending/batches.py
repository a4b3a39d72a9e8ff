"""A send's messages as API calls, built before any request: grouped and cut into batches,
``pre_send`` sent for each, the payloads built, and each call's request body encoded.

Everything Postmark would refuse for a message itself raises UnsupportedMessageError here, before
any request is made (with fail_silently, that message gets a failed result instead). Encoding
each call here, once, is what lets that cover the request too: a value JSON cannot carry is
refused like any other, and a batch whose JSON would pass Postmark's 50 MB is cut into calls
that fit before anything goes (``postmark.sending.send_loop`` posts these bytes as they are).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from django.core.mail import EmailMessage
from django.core.mail.backends.base import BaseEmailBackend

from .. import signals
from ..api.spec import MAX_BATCH_BYTES
from ..client import encode_json
from ..conf import settings
from ..exceptions import UnsupportedMessageError
from ..message import Defaults, call_key
from .recipients import payloads_of, plan_calls, refuse
from .send_loop import Batch, request_json

#: Room left in a request for the batch's own JSON around its messages (brackets, commas, the
#: ``{"Messages": ...}`` of a template batch).
_ENVELOPE_BYTES = 64


def build_batches(
    backend: BaseEmailBackend, email_messages: Sequence[EmailMessage], fail_silently: bool
) -> list[Batch]:
    """Split the messages into API calls, send ``pre_send`` for each, build the payloads and
    encode each call's body.

    ``pre_send`` goes once per batch of up to POSTMARK_BATCH_SIZE messages; a batch whose body
    would pass MAX_BATCH_BYTES is then posted as several calls, each with its ``post_send``.
    """
    defaults = Defaults.from_settings()
    size = settings.POSTMARK_BATCH_SIZE
    keys = [call_key(message, defaults) for message in email_messages]
    planned = [
        Batch(template, group[start : start + step], [], bulk, token)
        for (template, bulk, token), group in plan_calls(
            email_messages, keys, fail_silently
        ).items()
        # A Bulk API request carries one message (and all of its recipients).
        for step in [1 if bulk else size]
        for start in range(0, len(group), step)
    ]
    batches: list[Batch] = []
    for batch in planned:
        signals.pre_send.send(sender=type(backend), messages=batch.messages, backend=backend)
        batch.payloads = payloads_of(batch.messages, defaults, fail_silently, batch.bulk)
        batches.extend(_encoded(batch, fail_silently))
    return batches


# --- Request bodies ------------------------------------------------------------------------------


def _encoded(batch: Batch, fail_silently: bool) -> list[Batch]:
    """The batch with its body encoded; or, when that body would pass MAX_BATCH_BYTES, the
    calls it is cut into, each with its own body (every message keeps its place and order)."""
    payloads = [payload for payload in batch.payloads if payload is not None]
    if not payloads:
        return [batch]
    try:
        body = encode_json(request_json(batch, payloads))
    except (TypeError, ValueError):
        if not _refuse_unencodable(batch, fail_silently):
            raise  # each value encodes alone, so this is not a message's doing
        return _encoded(batch, fail_silently)
    if len(body) <= MAX_BATCH_BYTES:
        batch.body = body
        return [batch]
    # Rare (attachments, mostly): measure each message, then cut where the next would not fit.
    sizes = [0 if p is None else len(encode_json(p)) + 1 for p in batch.payloads]
    for position, size in enumerate(sizes):
        if size and (batch.bulk or size + _ENVELOPE_BYTES > MAX_BATCH_BYTES):
            _refuse_oversized(batch, position, size, fail_silently)
            sizes[position] = 0
    parts = []
    start, used = 0, 0
    for position, size in enumerate(sizes):
        if used and used + size + _ENVELOPE_BYTES > MAX_BATCH_BYTES:
            parts.append(_part(batch, start, position))
            start, used = position, 0
        used += size
    parts.append(_part(batch, start, len(sizes)))
    return [encoded for part in parts for encoded in _encoded(part, fail_silently)]


def _part(batch: Batch, start: int, end: int) -> Batch:
    return replace(
        batch, messages=batch.messages[start:end], payloads=batch.payloads[start:end], body=None
    )


def _refuse_unencodable(batch: Batch, fail_silently: bool) -> int:
    """Refuse each message with a value JSON cannot carry, naming its field; how many."""
    refused = 0
    for position, (message, payload) in enumerate(zip(batch.messages, batch.payloads, strict=True)):
        for field, value in (payload or {}).items():
            try:
                encode_json(value)
            except (TypeError, ValueError) as exc:
                error = UnsupportedMessageError(
                    f"Postmark's JSON cannot carry the {field} of this message ({exc}). Use "
                    "text, numbers (not NaN or infinities), booleans, lists and dicts; dates, "
                    "decimals and UUIDs go as text.",
                    field=field,
                )
                batch.payloads[position] = None
                refused += 1
                refuse(message, error, fail_silently)
                break
    return refused


def _refuse_oversized(batch: Batch, position: int, size: int, fail_silently: bool) -> None:
    kind, advice = (
        ("Bulk API message", "split its recipients over several messages")
        if batch.bulk
        else ("message", "make it smaller")
    )
    error = UnsupportedMessageError(
        f"This {kind} is {size / 1024 / 1024:.1f} MB as JSON; Postmark takes at most "
        f"{MAX_BATCH_BYTES // 1024 // 1024} MB per request: {advice}.",
        field="recipients" if batch.bulk else "size",
    )
    batch.payloads[position] = None
    refuse(batch.messages[position], error, fail_silently)
