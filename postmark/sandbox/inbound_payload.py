"""Inbound mail as Postmark posts it to a site's inbound webhook, built from a MIME message: what
the sandbox delivers, and what ``postmark.testing`` posts in a project's own tests.

One implementation for both, here in the sandbox: turning mail into this JSON is Postmark's
job, which the sandbox stands in for, and ``postmark.testing`` already builds on the sandbox.
Standard library only (``email`` with ``policy.default``), importing nothing of the core but
Postmark's facts; the core reads these payloads with a parser of its own
(``postmark.events.inbound``), so that tests which pass one through the other check each
against the other instead of sharing a mistake.

The mail comes from the developer (a form, a command, a test), not from strangers: it is
bounded in size (``MAX_EML_BYTES``, Postmark's 35 MB of attachments), but not hardened against
hostile headers as the core's reading of ``RawEmail`` is.
"""

from __future__ import annotations

import base64
import mimetypes
import uuid
from collections.abc import Iterator, Sequence
from email.message import EmailMessage, Message, MIMEPart
from typing import Any

from ..api.spec import MAX_INBOUND_ATTACHMENT_BYTES
from .inbound_mime import (
    MAX_EML_BYTES,
    UNFOLDED,
    AttachedFile,
    MailError,
    Recipient,
    as_bytes,
    compose,
    one_line,
    read,
)
from .reply_text import stripped_reply

#: The builder's whole face: what the sandbox, its command and ``postmark.testing`` use.
__all__ = [
    "MAX_EML_BYTES",
    "AttachedFile",
    "MailError",
    "Recipient",
    "as_bytes",
    "compose",
    "filename",
    "one_line",
    "payload",
    "read",
    "stripped_reply",
]

# Carried as fields of their own, or the top level's structure: not repeated in ``Headers``.
_FIELDS = frozenset(
    [
        "from",
        "to",
        "cc",
        "bcc",
        "reply-to",
        "subject",
        "date",
        "content-type",
        "content-transfer-encoding",
    ]
)
#: What Postmark adds after its spam check (SpamAssassin); the sandbox checks nothing.
SPAM_HEADERS = (
    ("X-Spam-Checker-Version", "django-postmark sandbox (no spam check)"),
    ("X-Spam-Status", "No"),
    ("X-Spam-Score", "0.0"),
    ("X-Spam-Tests", "NONE"),
)


def payload(
    source: bytes | Message,
    *,
    recipient: str = "",
    bcc: Sequence[str] = (),
    raw_email: bool = True,
    message_id: str = "",
    tag: str = "",
    stream: str = "inbound",
) -> dict[str, Any]:
    """Postmark's inbound JSON for the mail (its MIME source, or a message, which is written out
    first, so that the fields always say what the ``RawEmail`` says).

    ``recipient`` is the address it was delivered to (``OriginalRecipient``, whose plus part is
    the ``MailboxHash``): by default the first To, Cc or Bcc. Given and on none of them, it is
    a Bcc, as are the addresses of ``bcc``, which no header shows."""
    data = source if isinstance(source, bytes) else as_bytes(source)
    message = read(data)
    sender = _pairs(message, "From")
    if not sender:
        raise MailError("The message has no From address.")
    to, cc = _pairs(message, "To"), _pairs(message, "Cc")
    blind = [("", one_line(address).strip()) for address in bcc]
    shown = {address.lower() for _, address in to + cc + blind}
    recipient = one_line(recipient).strip()
    if recipient and recipient.lower() not in shown:
        blind.append(("", recipient))
    original = recipient or next((address for _, address in to + cc + blind), "")
    text_part, html_part = message.get_body(("plain",)), message.get_body(("html",))
    text_body = _text(text_part) if text_part is not None else ""
    parts = [part for part in _leaves(message) if part is not text_part and part is not html_part]
    body: dict[str, Any] = {
        "FromName": sender[0][0],
        "MessageStream": stream,
        "From": sender[0][1],
        "FromFull": _full(sender[0]),
        "To": _listed(to),
        "ToFull": [_full(pair) for pair in to],
        "Cc": _listed(cc),
        "CcFull": [_full(pair) for pair in cc],
        "Bcc": _listed(blind),
        "BccFull": [_full(pair) for pair in blind],
        "OriginalRecipient": original,
        "Subject": _header(message, "Subject"),
        "MessageID": message_id or str(uuid.uuid4()),
        "ReplyTo": _listed(_pairs(message, "Reply-To")),
        "MailboxHash": _mailbox_hash(original),
        "Date": _header(message, "Date"),
        "TextBody": text_body,
        "HtmlBody": _text(html_part) if html_part is not None else "",
        "StrippedTextReply": stripped_reply(text_body),
        "Tag": one_line(tag),
        "Headers": [{"Name": name, "Value": value} for name, value in SPAM_HEADERS]
        + [
            {"Name": name, "Value": _clean(value)}
            for name, value in message.items()
            if name.lower() not in _FIELDS
        ],
        "Attachments": list(_attachments(parts)),
    }
    if raw_email:
        body["RawEmail"] = _raw_text(data, message)
    return body


def _raw_text(data: bytes, message: EmailMessage) -> str:
    """The source as JSON text. Where it is not UTF-8 (an 8-bit body in Latin-1, say), it is
    written again with each such part in a 7-bit transfer encoding, which keeps its bytes."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return message.as_string(policy=UNFOLDED.clone(cte_type="7bit"))


def _clean(value: object) -> str:
    """A header's text on one line; raw UTF-8 bytes (read as surrogates) as the text they are."""
    text = str(value).encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return one_line(text)


def _header(message: Message, name: str) -> str:
    value = message.get(name)
    return "" if value is None else _clean(value)


def _pairs(message: EmailMessage, name: str) -> list[tuple[str, str]]:
    pairs = []
    for header in message.get_all(name) or []:
        for address in getattr(header, "addresses", ()):
            if address.addr_spec and "@" in address.addr_spec:
                pairs.append((_clean(address.display_name), _clean(address.addr_spec)))
    return pairs


def _quoted(name: str, address: str) -> str:
    if not name:
        return address
    escaped = name.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}" <{address}>'


def _listed(pairs: list[tuple[str, str]]) -> str:
    return ", ".join(_quoted(name, address) for name, address in pairs)


def _mailbox_hash(address: str) -> str:
    return address.rpartition("@")[0].partition("+")[2]


def _full(pair: tuple[str, str]) -> dict[str, str]:
    return {"Email": pair[1], "Name": pair[0], "MailboxHash": _mailbox_hash(pair[1])}


def _text(part: MIMEPart) -> str:
    try:
        content = part.get_content()
    except (LookupError, ValueError):  # an unknown charset: its bytes as UTF-8, as best we can
        content = _bytes(part).decode("utf-8", "replace")
    text = str(content).encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return text.replace("\r\n", "\n")  # the line ends of the text, not of its transport


def filename(part: Message) -> str | None:
    """The part's file name as written (RFC 2231 decoded). ``get_filename()`` would take the
    brackets off a name such as ``<report>.pdf``, quoting rules being those of addresses."""
    for header, parameter in (("Content-Disposition", "filename"), ("Content-Type", "name")):
        params = getattr(part.get(header), "params", None) or {}
        if params.get(parameter):
            return str(params[parameter])
    return None


def _bytes(part: MIMEPart) -> bytes:
    """The part's content, decoded from its transfer encoding; an attached message's source."""
    if part.get_content_maintype() != "message":
        decoded = part.get_payload(decode=True)
        return decoded if isinstance(decoded, bytes) else b""
    payload = part.get_payload()
    if isinstance(payload, list) and payload and isinstance(payload[0], Message):
        return as_bytes(payload[0])
    return b""


def _leaves(part: MIMEPart) -> Iterator[MIMEPart]:
    """Every part that is not a multipart, in order; an attached message is one part."""
    if part.get_content_maintype() == "multipart":
        for child in part.iter_parts():
            yield from _leaves(child)
    else:
        yield part


def _attachments(parts: list[MIMEPart]) -> Iterator[dict[str, Any]]:
    total = 0
    for number, part in enumerate(parts, 1):
        kind, content = part.get_content_type(), _bytes(part)
        total += len(content)
        if total > MAX_INBOUND_ATTACHMENT_BYTES:
            megabytes = MAX_INBOUND_ATTACHMENT_BYTES // (1024 * 1024)
            raise MailError(f"Attachments over Postmark's {megabytes} MB.", too_large=True)
        charset = part.get_param("charset")
        name = filename(part) or f"attachment-{number}{mimetypes.guess_extension(kind) or ''}"
        yield {
            "Name": _clean(name),
            "Content": base64.b64encode(content).decode("ascii"),
            "ContentType": kind + (f'; charset="{charset}"' if isinstance(charset, str) else ""),
            "ContentLength": len(content),
            "ContentID": _clean(part.get("Content-ID", "")).strip().strip("<>"),
        }
