"""Inbound mail as MIME: written from fields as a mail client would (``compose``), read from
its source (``read``), written out as it travels (``as_bytes``). ``inbound_payload`` makes
Postmark's JSON of it; both are the sandbox's and ``postmark.testing``'s alike (standard library
only, Postmark's facts aside).
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
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

#: The largest message read: 35 MB of attachments base64-encoded (4/3), and room for the rest.
MAX_EML_BYTES = MAX_INBOUND_ATTACHMENT_BYTES * 4 // 3 + 4 * 1024 * 1024
#: Every line break ``str.splitlines`` knows: ``policy.default`` refuses each in a header.
_LINE_BREAK = re.compile(r"\r\n|[\n\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")
_FOLD = re.compile(r"\r?\n(?=[ \t])")
_FIELD_NAME = re.compile(r"[!-9;-~]{1,76}", re.ASCII)  # RFC 5322 ftext
#: How mail is written out (``as_bytes``): CRLF line ends, no header folded.
UNFOLDED = policy.SMTP.clone(max_line_length=None)
_UNFOLDED_UTF8 = policy.SMTPUTF8.clone(max_line_length=None)

Recipient = str | tuple[str, str]  # "Name <address>", "address", or (name, address)


class MailError(ValueError):
    """What cannot be delivered as inbound mail; ``too_large`` when it is past Postmark's limit."""

    def __init__(self, message: str, *, too_large: bool = False) -> None:
        super().__init__(message)
        self.too_large = too_large


@dataclass(frozen=True)
class AttachedFile:
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
    attachments: Sequence[AttachedFile] = (),
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


def _attach(message: EmailMessage, html_part: MIMEPart | None, file: AttachedFile) -> None:
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
        return _flat(message, UNFOLDED)
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
