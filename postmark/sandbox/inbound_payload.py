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
import io
import mimetypes
import re
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.generator import BytesGenerator
from email.headerregistry import Address
from email.message import EmailMessage, Message, MIMEPart
from email.parser import BytesParser
from email.utils import format_datetime, make_msgid
from typing import Any

from ..api.spec import MAX_INBOUND_ATTACHMENT_BYTES
from .reply_text import stripped_reply

#: The largest message read: 35 MB of attachments base64-encoded (4/3), and room for the rest.
MAX_EML_BYTES = MAX_INBOUND_ATTACHMENT_BYTES * 4 // 3 + 4 * 1024 * 1024
#: Every line break ``str.splitlines`` knows: ``policy.default`` refuses each in a header.
_LINE_BREAK = re.compile(r"\r\n|[\n\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")
_FOLD = re.compile(r"\r?\n(?=[ \t])")
_FIELD_NAME = re.compile(r"[!-9;-~]{1,76}", re.ASCII)  # RFC 5322 ftext
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

_UNFOLDED = policy.SMTP.clone(max_line_length=None)
_UNFOLDED_UTF8 = policy.SMTPUTF8.clone(max_line_length=None)

Recipient = str | tuple[str, str]  # "Name <address>", "address", or (name, address)


class MailError(ValueError):
    """What cannot be delivered as inbound mail; ``too_large`` when it is past Postmark's limit."""

    def __init__(self, message: str, *, too_large: bool = False) -> None:
        super().__init__(message)
        self.too_large = too_large


@dataclass(frozen=True)
class Attachment:
    """A file of the mail; with a ``content_id`` it is inline (the HTML shows it as
    ``cid:<content_id>``)."""

    name: str
    content: bytes
    content_type: str = "application/octet-stream"
    content_id: str = ""


def one_line(value: str) -> str:
    """``value`` unfolded, every other line break a space: no header of the JSON has one."""
    return _LINE_BREAK.sub(" ", _FOLD.sub("", value))


def compose(
    *,
    from_email: Recipient,
    to: Recipient | Sequence[Recipient],
    subject: str = "",
    text: str = "",
    html: str = "",
    cc: Sequence[Recipient] = (),
    reply_to: Sequence[Recipient] = (),
    headers: Sequence[tuple[str, str]] = (),
    attachments: Sequence[Attachment] = (),
) -> EmailMessage:
    """The mail as a mail client would send it (Date and Message-ID included). Line breaks in a
    name, the subject, a header or a filename become spaces; a header name that is not one, or
    one of the message's structure (Content-*, MIME-Version), is a ``MailError``."""
    message = EmailMessage(policy=policy.default)
    _set_addresses(message, "From", [from_email])
    _set_addresses(message, "To", [to] if isinstance(to, str | tuple) else to)
    _set_addresses(message, "Cc", cc)
    _set_addresses(message, "Reply-To", reply_to)
    message["Subject"] = one_line(subject)
    message["Date"] = format_datetime(datetime.now(UTC))
    sender = message["From"].addresses[0].domain or "localhost"
    message["Message-ID"] = make_msgid(domain=sender)  # a domain given: no DNS look-up
    for name, value in headers:
        if not _FIELD_NAME.fullmatch(name) or name.lower().startswith(("content-", "mime-")):
            raise MailError(f"Not a header this mail can be given: {name!r}.")
        del message[name]  # given: it replaces the one composed (Date, Message-ID)
        message[name] = one_line(value)
    message.set_content(text)
    if html:
        message.add_alternative(html, subtype="html")
    html_part = message.get_body(("html",)) if html else None
    for file in attachments:
        _attach(message, html_part, file)
    return message


def _attach(message: EmailMessage, html_part: MIMEPart | None, file: Attachment) -> None:
    kind = file.content_type.partition(";")[0].strip().lower()
    maintype, _, subtype = kind.partition("/")
    if not maintype or not subtype or maintype == "multipart":
        maintype, subtype = "application", "octet-stream"
    content: Any = file.content
    options: dict[str, Any] = {"subtype": subtype, "filename": one_line(file.name)}
    if (maintype, subtype) == ("message", "rfc822"):  # attached as the message it is
        content = BytesParser(policy=policy.default).parsebytes(file.content)
    else:
        options["maintype"] = maintype
    if file.content_id:
        options["cid"] = f"<{one_line(file.content_id).strip().strip('<>')}>"
    if file.content_id and html_part is not None:
        html_part.add_related(content, disposition="inline", **options)
    else:
        message.add_attachment(content, **options)


def _set_addresses(message: EmailMessage, name: str, recipients: Sequence[Recipient]) -> None:
    """The header ``name`` with each recipient; every one must be a ``local@domain``."""
    items: list[str] = []
    for recipient in recipients:
        if isinstance(recipient, tuple):
            try:
                items.append(str(Address(one_line(recipient[0]), addr_spec=recipient[1].strip())))
            except (ValueError, IndexError):
                raise MailError(f"{name}: not an address: {recipient[1]!r}.") from None
        elif one_line(recipient).strip():
            items.append(one_line(recipient))
    if not items:
        if name in ("From", "To"):
            raise MailError(f"The mail needs a {name} address.")
        return
    message[name] = ", ".join(items)
    found = message[name].addresses
    if not found or any("@" not in address.addr_spec for address in found):
        raise MailError(f"{name}: not a list of addresses: {message[name]!r}.")


def as_bytes(message: Message) -> bytes:
    """The message as it travels, CRLF line ends; an international address in a header is
    written as UTF-8 (SMTPUTF8), every other header as RFC 2047 encoded words. No header is
    folded: the standard library's folding of encoded words adds or drops spaces in a name or a
    subject, and a parser reads a long line as it is."""
    try:
        return _flat(message, _UNFOLDED)
    except UnicodeError:
        return _flat(message, _UNFOLDED_UTF8)


def _flat(message: Message, how: policy.EmailPolicy[Any]) -> bytes:
    # The generator itself: Django's messages (before Django 6) override as_bytes() without
    # its policy argument.
    buffer = io.BytesIO()
    BytesGenerator(buffer, policy=how).flatten(message)
    return buffer.getvalue()


def read(data: bytes) -> EmailMessage:
    """A message from its MIME source (an ``.eml`` file), at most ``MAX_EML_BYTES``."""
    if len(data) > MAX_EML_BYTES:
        raise MailError(f"The message is over {MAX_EML_BYTES // (1024 * 1024)} MB.", too_large=True)
    parsed = BytesParser(policy=policy.default).parsebytes(data)
    assert isinstance(parsed, EmailMessage)  # what policy.default makes
    return parsed


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
        return message.as_string(policy=_UNFOLDED.clone(cte_type="7bit"))


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
