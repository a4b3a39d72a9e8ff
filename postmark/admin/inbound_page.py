"""What the admin shows of one inbound message, read again from its stored content: its headers,
its text, the source of its HTML as text, its attachments. Nothing of it is marked safe: the
template escapes every value, so a message's HTML is shown as what it says, never rendered (no
script of it runs, no image of it loads, no link of it is live in the admin page)."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field

from django.urls import reverse

from ..inbound import InboundMail, Unprocessable, read_mail
from ..models import InboundMessage

#: How much of each body the page shows, in characters: the whole of any mail a person reads,
#: while a 35 MB body does not become a 35 MB page (the webhook event holds all of it).
SHOWN_CHARACTERS = 200_000


@dataclass
class Body:
    text: str = ""
    #: Characters left out after ``text`` (0: the whole body is shown).
    left_out: int = 0


@dataclass
class ShownAttachment:
    number: int
    name: str
    #: The name as the sender wrote it, when it differs from ``name`` (control and format
    #: characters shown as escapes), else "".
    original_name: str
    content_type: str
    size: int
    content_id: str
    url: str


@dataclass
class ShownMessage:
    #: Why the message cannot be shown ("": it can).
    problem: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)
    reply_text: Body = field(default_factory=Body)
    text: Body = field(default_factory=Body)
    html: Body = field(default_factory=Body)
    attachments: list[ShownAttachment] = field(default_factory=list)


def shown(record: InboundMessage) -> ShownMessage:
    """The message of ``record`` as the page shows it (its ``problem`` when it is gone)."""
    try:
        mail = read_mail(record)
    except Unprocessable as exc:
        return ShownMessage(problem=str(exc))
    text, html = _bodies(mail)
    return ShownMessage(
        headers=_headers(mail),
        reply_text=_cut(mail.reply_text),
        text=_cut(text),
        html=_cut(html),
        attachments=[
            ShownAttachment(
                number=number,
                name=attachment.name,
                original_name=""
                if attachment.original_name == attachment.name
                else visible(attachment.original_name),
                content_type=visible(attachment.content_type),
                size=len(attachment.content),
                content_id=visible(attachment.content_id),
                url=reverse(
                    "admin:postmark_inboundmessage_attachment",
                    kwargs={"object_id": record.pk, "number": number},
                ),
            )
            for number, attachment in enumerate(mail.attachments, start=1)
        ],
    )


def _bodies(mail: InboundMail) -> tuple[str, str]:
    """The text and HTML bodies Postmark parsed; read from the raw MIME only when the JSON has
    neither (the message is built from ``RawEmail`` then, which it otherwise need not be)."""
    event = mail.event
    if event.text_body or event.html_body or not event.raw_email:
        return event.text_body, event.html_body
    message = mail.message
    text, html = "", ""
    if message.content_subtype == "html":
        html = str(message.body)
    else:
        text = str(message.body)
    for content, mimetype in message.alternatives:
        if mimetype == "text/html" and isinstance(content, str) and not html:
            html = content
    return text, html


def _headers(mail: InboundMail) -> list[tuple[str, str]]:
    event = mail.event
    main = [
        ("From", str(event.from_full) if event.from_full.email else event.from_email),
        ("To", event.to),
        ("Cc", event.cc),
        ("Bcc", event.bcc),
        ("Reply-To", event.reply_to),
        ("Subject", event.subject),
        ("Date", event.date),
        ("OriginalRecipient", event.original_recipient),
        ("MailboxHash", event.mailbox_hash),
        ("MessageStream", event.message_stream),
        ("Tag", event.tag),
        ("Postmark MessageID", event.message_id),
    ]
    given = [(name, value) for name, value in main if value]
    return [(visible(name), visible(value)) for name, value in given + event.headers]


def _cut(text: str) -> Body:
    return Body(text[:SHOWN_CHARACTERS], max(len(text) - SHOWN_CHARACTERS, 0))


def visible(text: str) -> str:
    """``text`` with its control and format characters (a right-to-left override, a zero-width
    space, NUL) written as escapes: a file name or a header reads as what it holds, not as
    what it makes a screen show. Linear in its length."""
    return "".join(
        f"\\u{ord(char):04x}" if unicodedata.category(char) in ("Cc", "Cf") else char
        for char in text
    )
