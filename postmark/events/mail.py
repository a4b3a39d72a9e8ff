"""Inbound mail as a Django message that always builds and always renders.

The parts come from Postmark's JSON fields, or from the raw MIME when Postmark includes it
(``RawEmail``, an inbound stream option). Whatever the sender put in them, ``message()`` must
render: a receiver that reads ``event.message`` would otherwise fail the event for good. So
every part is made renderable here, one rule per kind of part:

* addresses are quoted by us, never by ``formataddr`` (it raises on an international address
  with a display name); one that still does not render is kept as its bare address, or dropped;
* line breaks in the subject, header values and filenames become spaces (Django 6 refuses them);
* header names that are not RFC 5322 field names, and headers Django writes itself, are left out;
* a content type that is not ``type/subtype`` becomes ``application/octet-stream``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from email import message_from_string, policy
from email.message import EmailMessage as MimeMessage
from email.utils import getaddresses

from django.core.mail import EmailMessage, EmailMultiAlternatives

# Headers Django builds itself from the message's own fields; copying them would duplicate them.
_STRUCTURAL_HEADERS = frozenset(
    [
        "from",
        "to",
        "cc",
        "bcc",
        "reply-to",
        "subject",
        "mime-version",
        "content-type",
        "content-transfer-encoding",
        "content-disposition",
    ]
)
_FIELD_NAME = re.compile(r"[!-9;-~]+", re.ASCII)  # printable ASCII but ":" (RFC 5322 ftext)
_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_CONTENT_TYPE = re.compile(rf"{_TOKEN}/{_TOKEN}", re.ASCII)
_OCTET_STREAM = "application/octet-stream"
_SPECIALS = re.compile(r'[()<>\[\]:;@\\,."]')  # a display name with one of these is quoted

Pair = tuple[str, str]  # (display name, address)


@dataclass
class Parts:
    subject: str = ""
    body: str = ""
    html: str = ""
    from_email: Pair = ("", "")
    to: list[Pair] = field(default_factory=list)
    cc: list[Pair] = field(default_factory=list)
    bcc: list[Pair] = field(default_factory=list)
    reply_to: list[Pair] = field(default_factory=list)
    headers: list[Pair] = field(default_factory=list)
    attachments: list[tuple[str, bytes | str, str]] = field(default_factory=list)


def one_line(value: str) -> str:
    return " ".join(value.split())


def address(name: str, email: str) -> str:
    """``"Name" <email>`` (quoted, on one line), or the bare address when there is no name."""
    name, email = one_line(name), "".join(email.split())
    if not name:
        return email
    if not _SPECIALS.search(name):
        return f"{name} <{email}>"
    quoted = name.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{quoted}" <{email}>'


def parse_addresses(value: str) -> list[Pair]:
    return [(name, email) for name, email in getaddresses([one_line(value)]) if email]


def _renders(message: EmailMessage) -> bool:
    try:
        message.message().as_bytes()
    except Exception:  # whatever Django's or the stdlib's mail code raises
        return False
    return True


def _renderable(pair: Pair) -> str | None:
    for candidate in (address(*pair), address("", pair[1])):
        if candidate and _renders(EmailMessage(from_email=candidate, to=[candidate])):
            return candidate
    return None


def _addresses(pairs: Iterable[Pair]) -> list[str]:
    return [a for a in (_renderable(pair) for pair in pairs) if a is not None]


def _headers(pairs: Iterable[Pair]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name, value in pairs:
        if _FIELD_NAME.fullmatch(name) and name.lower() not in _STRUCTURAL_HEADERS:
            headers.setdefault(name, one_line(value))
    return headers


def build(parts: Parts) -> EmailMultiAlternatives:
    message = EmailMultiAlternatives(
        subject=one_line(parts.subject),
        body=parts.body,
        from_email=_renderable(parts.from_email) or "",
        to=_addresses(parts.to),
        cc=_addresses(parts.cc),
        bcc=_addresses(parts.bcc),
        reply_to=_addresses(parts.reply_to) or None,
        headers=_headers(parts.headers),
    )
    if parts.html:
        message.attach_alternative(parts.html, "text/html")
    for name, content, content_type in parts.attachments:
        kind = content_type if _CONTENT_TYPE.fullmatch(content_type) else _OCTET_STREAM
        message.attach(one_line(name) or None, content, kind)
    if not _renders(message):
        # Something no rule above foresaw: keep what is certain to render, the text and the
        # attachments' bytes as opaque files; the event still holds every field as sent.
        message.extra_headers = {}
        message.alternatives = []
        message.attachments = [
            (one_line(n) or None, _bytes(c), _OCTET_STREAM) for n, c, _ in parts.attachments
        ]
    return message


def _bytes(content: object) -> bytes:
    return content if isinstance(content, bytes) else str(content).encode("utf-8", "replace")


def from_mime(raw: str) -> EmailMultiAlternatives | None:
    """The message built from its raw MIME, or None when that is unusable (no sender, or a
    structure the parser cannot take apart): the caller then uses the JSON fields."""
    try:
        mime = message_from_string(raw, policy=policy.default)
        parts = _parts(mime) if isinstance(mime, MimeMessage) else None
        if parts is None:
            return None
        built = build(parts)
    except Exception:  # hostile MIME: any parser error means "unusable"
        return None
    return built if _renders(built) else None


def _parts(mime: MimeMessage) -> Parts | None:
    """The message's parts; None without a sender's address (not a mail message at all)."""

    def pairs(name: str) -> list[Pair]:
        return [
            (a.display_name, a.addr_spec)
            for header in mime.get_all(name) or []
            for a in getattr(header, "addresses", ())
        ]

    senders = pairs("From")
    if not senders or not senders[0][1]:
        return None
    plain, html = mime.get_body(("plain",)), mime.get_body(("html",))
    return Parts(
        subject=str(mime["Subject"] or ""),
        body=plain.get_content() if plain is not None else "",
        html=html.get_content() if html is not None else "",
        from_email=senders[0],
        to=pairs("To"),
        cc=pairs("Cc"),
        bcc=pairs("Bcc"),
        reply_to=pairs("Reply-To"),
        headers=[(name, str(value)) for name, value in mime.items()],
        attachments=[
            (part.get_filename() or "", part.get_content(), part.get_content_type())
            for part in mime.iter_attachments()
            if isinstance(part, MimeMessage)
        ],
    )
