"""Erasing one address's local rows, exactly: what ``forget()`` does here before asking Postmark.

"Its rows" means the rows whose address fields hold that address, compared as Postmark compares
addresses (any case; a display name and an IDN domain's two spellings are the same address),
never a row that merely contains its text: ``y@shop.example`` is not ``anny@shop.example``,
``y+news@shop.example`` or ``y@mail.shop.example``, and a bounce of someone else whose Subject,
Details, Metadata or From quotes the address is someone else's row.

- ``Bounce`` and ``Suppression``: the rows whose ``email`` is the address.
- ``WebhookEvent``: outbound events whose ``Email`` (bounces, spam complaints) or ``Recipient``
  (delivery, open, click, subscription change) is the address, and inbound mail from it or to it
  (``From``, ``To``, ``Cc``, ``Bcc`` and their ``...Full`` lists, ``OriginalRecipient``). The JSON
  is parsed, so an escaped spelling (``\\u0040``, ``\\/``) is the address too. The
  ``InboundMessage`` kept of such mail goes with it.
- ``Message``: a message whose only recipient was the address goes. A message also sent to
  others stays theirs: the address is taken out of its To, Cc and Bcc (and out of the
  recipients its error text lists: suppressed, inactive), the other recipients and everything
  else are kept as they were; their own bounces and events are not touched. A message *from*
  the address is its recipients' record, like a bounce whose From is the address.

No database can be asked for a JSON value inside a text column portably, so each table is
narrowed with a case-insensitive ``LIKE`` on a piece of the address that no JSON encoder
escapes, and every candidate is then checked exactly here, in chunks of bounded size.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import suppress
from functools import reduce
from operator import or_
from typing import Any

from django.db.models import Q, QuerySet
from django.db.models.functions import Length

from .. import events
from ..models import Bounce, Message, Suppression, WebhookEvent
from ..sending.addresses import bare_address, split_addresses

#: Rows read per query while looking for the address.
CHUNK = 500
#: Webhook bodies read per query, in characters (an inbound mail may carry 50 MB on its own,
#: which is then read alone).
BODY_BUDGET = 8 * 1024 * 1024
#: What stands where the address was taken out of a message's error text.
REDACTED = "(forgotten)"

_MESSAGE_RECIPIENTS = ("to", "cc", "bcc")
_OUTBOUND_KEYS = ("Email", "Recipient")
_INBOUND_KEYS = ("From", "To", "Cc", "Bcc", "OriginalRecipient")
_INBOUND_FULL_KEYS = ("FromFull", "ToFull", "CcFull", "BccFull")
# Characters no JSON encoder escapes (.NET's, Postmark's, escapes "+", "&" and "'"; any may
# escape "/" and every non-ASCII character): the LIKE probe is made of these only.
_PLAIN_RUN = re.compile(r"[a-z0-9._-]+")


def normal_address(value: object) -> str:
    """The address in ``value`` ("a@b", "Name <a@b>") as compared: lowercased, its domain in
    IDNA; "" when there is none."""
    if not isinstance(value, str) or "@" not in value:
        return ""
    local, at, domain = bare_address(value).rpartition("@")
    if not at:
        return ""
    if not domain.isascii():
        with suppress(UnicodeError):  # not a valid IDN: compared as written (lowercased)
            domain = domain.encode("idna").decode("ascii")
    return f"{local}@{domain}"


def erase_locally(address: str, *, keep_suppressions: bool = False) -> dict[str, int]:
    """Delete (or, for messages shared with others, redact) every row of ``address``; run it in
    a transaction. Returns the counts by kind; "messages redacted" only when there were some."""
    target = _Target(address)
    erased = {"webhook events": _erase_events(target), "bounces": _erase(Bounce, target)}
    deleted, redacted = _erase_messages(target)
    erased["messages"] = deleted
    if redacted:
        erased["messages redacted"] = redacted
    if not keep_suppressions:
        erased["suppressions"] = _erase(Suppression, target)
    return erased


class _Target:
    def __init__(self, address: str) -> None:
        self.address = normal_address(address)
        if not self.address:
            raise ValueError(f"{address!r} is not an email address.")
        self.probe = _probe(self.address)
        # The address as a whole word of free text: not inside a longer address.
        self.in_text = re.compile(
            r"(?<![\w.!#$%&'*+/=?^`{|}~-])" + re.escape(self.address) + r"(?![\w-]|\.\w)",
            re.IGNORECASE,
        )

    def names(self, value: object) -> bool:
        return normal_address(value) == self.address

    def narrow(self, rows: QuerySet[Any], *fields: str) -> QuerySet[Any]:
        if not self.probe:
            return rows  # nothing to narrow by: every row is checked
        return rows.filter(reduce(or_, (Q(**{f"{f}__icontains": self.probe}) for f in fields)))


def _probe(address: str) -> str:
    """The longest piece of the address that is spelled the same in every row holding it."""
    local, _, domain = address.rpartition("@")
    # An IDN label may be stored as punycode or as Unicode: only the other labels are certain.
    labels = [" " if label.startswith("xn--") else label for label in domain.split(".")]
    pieces = _PLAIN_RUN.findall(local) + _PLAIN_RUN.findall(".".join(labels))
    return max(pieces, key=len, default="")


def _chunks(rows: QuerySet[Any], *fields: str) -> Iterator[list[tuple[Any, ...]]]:
    """``(pk, *fields)`` of ``rows``, in pk order, CHUNK at a time (rows deleted meanwhile are
    not skipped over: each chunk starts after the last pk seen)."""
    last: Any = None
    while True:
        page = rows.order_by("pk") if last is None else rows.filter(pk__gt=last).order_by("pk")
        chunk = list(page.values_list("pk", *fields)[:CHUNK])
        if not chunk:
            return
        yield chunk
        last = chunk[-1][0]


def _erase(model: type[Bounce] | type[Suppression], target: _Target) -> int:
    deleted = 0
    for chunk in _chunks(target.narrow(model.objects.all(), "email"), "email"):
        pks = [pk for pk, email in chunk if target.names(email)]
        if pks:
            deleted += model.objects.filter(pk__in=pks).delete()[0]
    return deleted


def _erase_events(target: _Target) -> int:
    deleted = 0
    candidates = target.narrow(WebhookEvent.objects.all(), "body").annotate(size=Length("body"))
    for chunk in _chunks(candidates, "size"):
        for group in _by_size(chunk):
            bodies = WebhookEvent.objects.filter(pk__in=group).values_list(
                "pk", "record_type", "body"
            )
            pks = [pk for pk, kind, body in bodies if _event_names(target, kind, body)]
            if pks:
                # An inbound message's record goes with its content (it names the address too).
                by_model = WebhookEvent.objects.filter(pk__in=pks).delete()[1]
                deleted += by_model.get(WebhookEvent._meta.label, 0)
    return deleted


def _by_size(chunk: list[tuple[Any, ...]]) -> Iterator[list[Any]]:
    group: list[Any] = []
    size = 0
    for pk, length in chunk:
        if group and size + (length or 0) > BODY_BUDGET:
            yield group
            group, size = [], 0
        group.append(pk)
        size += length or 0
    if group:
        yield group


def _event_names(target: _Target, record_type: str, body: str) -> bool:
    try:
        payload = events.load(body)
    except events.InvalidPayload:
        return False  # not JSON: no field of it can be read as an address
    if record_type != events.INBOUND:
        return any(target.names(payload.get(key)) for key in _OUTBOUND_KEYS)
    for key in _INBOUND_KEYS:
        value = payload.get(key)
        if isinstance(value, str) and any(target.names(a) for a in split_addresses(value)):
            return True
    for key in _INBOUND_FULL_KEYS:
        value = payload.get(key)
        entries = value if isinstance(value, list) else [value]
        if any(isinstance(e, dict) and target.names(e.get("Email")) for e in entries):
            return True
    return False


def _erase_messages(target: _Target) -> tuple[int, int]:
    fields = (*_MESSAGE_RECIPIENTS, "error")
    deleted = redacted = 0
    for chunk in _chunks(target.narrow(Message.objects.all(), *fields), *fields):
        gone = []
        for pk, *values in chunk:
            row = dict(zip(fields, values, strict=True))
            changes = _redacted(target, row)
            if changes is None:
                continue
            if not any(changes.get(name, row[name]) for name in _MESSAGE_RECIPIENTS):
                gone.append(pk)  # nobody else it was sent to: the message was the address's
            else:
                redacted += Message.objects.filter(pk=pk).update(**changes)
        if gone:
            deleted += Message.objects.filter(pk__in=gone).delete()[0]
    return deleted, redacted


def _redacted(target: _Target, row: dict[str, str]) -> dict[str, str] | None:
    """The row's address fields without the address, or None if it holds none of them."""
    changes: dict[str, str] = {}
    for name in _MESSAGE_RECIPIENTS:
        entries = _entries(row[name])
        kept = [entry for entry in entries if not target.names(entry)]
        if len(kept) != len(entries):
            changes[name] = ", ".join(kept)
    error = target.in_text.sub(REDACTED, row["error"])
    if error != row["error"]:
        changes["error"] = error
    return changes or None


def _entries(text: str) -> list[str]:
    """The addresses of a "a@x, "Doe, J" <b@y>" column as written, split at the commas that
    are outside quotes, angle brackets and comments (one pass)."""
    entries, start, depth, quoted, escaped = [], 0, 0, False, False
    for index, char in enumerate(text):
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif quoted:
            continue
        elif char in "<(":
            depth += 1
        elif char in ">)":
            depth = max(depth - 1, 0)
        elif char == "," and depth == 0:
            entries.append(text[start:index])
            start = index + 1
    entries.append(text[start:])
    return [entry.strip() for entry in entries if entry.strip()]
