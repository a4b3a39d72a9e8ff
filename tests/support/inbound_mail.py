"""Generated inbound mail as Postmark posts it: recipients in every form the JSON carries them,
with or without the raw MIME (``RawEmail``), attachments whose content type has parameters
(in any case and spacing), inline parts with a ContentID, ``Content`` or ``Data``."""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass, field
from email.message import Message
from typing import Any

from hypothesis import strategies as st

from tests.support import webhook_payloads as payloads

FIELDS = {"to": ("To", "ToFull"), "cc": ("Cc", "CcFull"), "bcc": ("Bcc", "BccFull")}

local_parts = st.from_regex(r"[a-z0-9]{1,8}([._+-][a-z0-9]{1,8}){0,2}", fullmatch=True)
domains = st.sampled_from(["example.com", "mail.example.org", "exämple.de", "例え.jp"])
addresses = st.builds("{}@{}".format, local_parts, domains)
names = st.text(st.characters(exclude_categories=("Cs", "Cc")), max_size=20)
recipient_lists = st.lists(
    st.tuples(names, addresses), max_size=4, unique_by=lambda pair: pair[1].lower()
)


def quoted(name: str, address: str) -> str:
    """An address as a header writes it: the name always quoted (the simplest correct form)."""
    if not name:
        return address
    escaped = name.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}" <{address}>'


def header_list(pairs: list[tuple[str, str]]) -> str:
    return ", ".join(quoted(name, address) for name, address in pairs)


def raw_email(headers: dict[str, str], body: str = "Raw body", content_type: str = "") -> str:
    """A raw message from Sender, with the given headers and a text body (or a MIME body whose
    Content-Type is given)."""
    lines = ["From: Sender <sender@example.com>", "Subject: Raw", "MIME-Version: 1.0"]
    lines += [f"{name}: {value}" for name, value in headers.items() if value]
    lines.append(f"Content-Type: {content_type or 'text/plain; charset=utf-8'}")
    return "\r\n".join(lines) + "\r\n\r\n" + body


@dataclass
class Mail:
    payload: dict[str, Any]
    #: Per field of the message (to, cc, bcc, reply_to): the addresses the JSON names.
    expected: dict[str, set[str]] = field(default_factory=dict)


@st.composite
def recipients(draw: st.DrawFn) -> Mail:
    """Mail whose To, Cc, Bcc and Reply-To the JSON carries as ...Full lists or as text, with
    a RawEmail that shows all of them but Bcc, only To, or none (no RawEmail)."""
    lists = {key: draw(recipient_lists) for key in [*FIELDS, "reply_to"]}
    as_full = draw(st.booleans())
    changes: dict[str, Any] = {"MessageID": str(uuid.uuid4()), "ReplyTo": ""}
    for key, (text, full) in FIELDS.items():
        changes[text] = header_list(lists[key])
        changes[full] = [{"Email": a, "Name": n, "MailboxHash": ""} for n, a in lists[key]]
        if not as_full:
            changes[full] = []
    changes["ReplyTo"] = header_list(lists["reply_to"])
    shown = draw(st.sampled_from(["none", "to", "all"]))
    if shown != "none":
        raw_headers = {"To": changes["To"]}
        if shown == "all":
            raw_headers |= {"Cc": changes["Cc"], "Reply-To": changes["ReplyTo"]}
        changes["RawEmail"] = raw_email(raw_headers)
    expected = {key: {a.lower() for _, a in pairs} for key, pairs in lists.items()}
    return Mail(payloads.inbound(**changes), expected)


# --- attachments ---------------------------------------------------------------------------

KINDS = [
    "text/plain",
    "text/html",
    "text/calendar",
    "image/png",
    "application/pdf",
    "message/rfc822",
    "application/vnd.ms-excel",
]
PARAMETERS = [
    'charset="us-ascii"',
    "charset=utf-8",
    "Charset = UTF-8",
    'charset="iso-8859-1"',
    "format=flowed",
    'name="a; b.txt"',
    "method=REQUEST",
    "delsp=yes",
    'x-escaped="a \\"quoted\\" word"',
]
ATTACHED_MESSAGE = b"From: a@example.com\r\nTo: b@example.com\r\nSubject: Fwd\r\n\r\nInner body\r\n"


@dataclass
class File:
    name: str
    kind: str  # what the message must say: type/subtype, lowercase
    content_type: str  # as Postmark sends it
    data: bytes
    content_id: str = ""

    @property
    def text(self) -> str | None:
        """The content a text attachment must have on the message, decoded by its charset."""
        if not self.kind.startswith("text/"):
            return None
        return self.data.decode("iso-8859-1" if "8859" in self.content_type else "utf-8")


@st.composite
def files(draw: st.DrawFn, index: int = 0) -> File:
    kind = draw(st.sampled_from(KINDS))
    params = draw(st.lists(st.sampled_from(PARAMETERS), max_size=3, unique=True))
    if kind.startswith("text/"):
        # One charset at most, and a text in it.
        charsets = [p for p in params if "charset" in p.lower()]
        params = [p for p in params if p not in charsets[1:]]
        text = "caf\u00e9 na\u00efve" if charsets and "us-ascii" not in charsets[0] else "cafe"
        data = text.encode("iso-8859-1" if charsets and "8859" in charsets[0] else "utf-8")
    elif kind == "message/rfc822":
        data = ATTACHED_MESSAGE
    else:
        data = draw(st.binary(min_size=1, max_size=64))
    cased = draw(st.sampled_from([str.lower, str.upper, str.title]))(kind)
    spacing = draw(st.sampled_from([";", "; ", " ;  ", ";\t"]))
    content_type = " " + spacing.join([cased, *params]) + " "
    inline = draw(st.booleans()) and not kind.startswith("message/")
    content_id = f"part{index}.{draw(local_parts)}@example.com" if inline else ""
    return File(f"file{index}.bin", kind, content_type, data, content_id)


def json_attachment(file: File, data_key: str = "Content") -> dict[str, Any]:
    """As Postmark's JSON has it (``Data`` where the "check" button sends it)."""
    attachment = {
        "Name": file.name,
        data_key: base64.b64encode(file.data).decode(),
        "ContentType": file.content_type,
        "ContentLength": len(file.data),
    }
    if file.content_id:
        # Postmark writes it bare, or as the HTML names it; some senders keep the brackets.
        attachment["ContentID"] = file.content_id
    return attachment


def mime_part(file: File) -> str:
    """As a part of a RawEmail: the content type as sent, the content in base64."""
    attached_message = file.kind == "message/rfc822"  # RFC 2046: never base64
    encoding = "7bit" if attached_message else "base64"
    lines = [f"Content-Type: {file.content_type}", f"Content-Transfer-Encoding: {encoding}"]
    disposition = "inline" if file.content_id else "attachment"
    lines.append(f'Content-Disposition: {disposition}; filename="{file.name}"')
    if file.content_id:
        lines.append(f"Content-ID: <{file.content_id}>")
    body = file.data.decode() if attached_message else base64.encodebytes(file.data).decode()
    return "\r\n".join(lines) + "\r\n\r\n" + body


def parts_by_name(rendered: Message) -> dict[str, Message]:
    """The attachments of a rendered message (parsed back by the standard library), by name."""
    return {str(part.get_filename()): part for part in rendered.walk() if part.get_filename()}


#: A reply with a quoted part and a PDF, as an .eml file holds it (delivered by the sandbox).
INVOICE_EML = (
    b"From: Cy <cy@example.com>\r\n"
    b"To: support@in.example.com\r\n"
    b"Subject: Invoice\r\n"
    b"MIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
    b"--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
    b"See attached.\r\n\r\nOn Mon, 5 Jan 2026, Shop wrote:\r\n> Please send it\r\n"
    b'--b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename="in.pdf"'
    b"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQ=\r\n--b--\r\n"
)
