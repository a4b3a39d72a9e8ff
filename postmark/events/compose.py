"""Inbound mail's parts (``mail.Parts``) as a Django message that always builds, always renders,
and costs time linear in the payload, whatever the sender put in it.

Whatever the sender put in the parts, ``message()`` must render: a receiver that reads
``event.message`` would otherwise fail the event for good. So every part is made renderable
here, one rule per kind of part:

* addresses are quoted by us, never by ``formataddr`` (it raises on an international address
  with a display name); an address that is not a plain ``local@domain`` (quotes, brackets,
  commas, control characters, a domain IDNA refuses: Django would render another address or
  none) is left out, and an address already on the field is not repeated;
* line breaks in the subject, header values and filenames become spaces (Django 6 refuses them);
* header names that are not RFC 5322 field names, and headers Django writes itself, are left out;
* a content type that is not ``type/subtype`` becomes ``application/octet-stream``; a text
  attachment's ``charset`` decodes it; a file with a ``ContentID`` (an inline image the HTML
  names as ``cid:...``) becomes a MIME part of its own, inline, with its Content-ID and every
  parameter of its type (a ``MIMEPart`` from Django 6, a ``MIMEBase`` before: what ``attach()``
  takes); an attached message whose headers exceed the limit is attached as bytes;
* each header holds at most ``mail.MAX_HEADER_LENGTH`` characters, each address field at most
  ``mail.MAX_ADDRESSES`` addresses.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from email import encoders
from email.message import MIMEPart
from email.mime.base import MIMEBase
from functools import lru_cache
from itertools import islice

import django
from django.core.mail import EmailMessage, EmailMultiAlternatives

from .mail import (
    CONTENT_TYPE,
    MAX_ADDRESSES,
    MAX_HEADER_LENGTH,
    OCTET_STREAM,
    File,
    Pair,
    Parts,
    address,
    decode,
    one_line,
)

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
_FIELD_NAME = re.compile(r"[!-9;-~]{1,998}", re.ASCII)  # RFC 5322 ftext, one line at most
_CONTENT_ID = re.compile(r"[!-~]{1,900}", re.ASCII)  # printable ASCII, on one header line
# What no plain local@domain holds: whitespace, controls, quotes, brackets, list separators.
_NOT_IN_ADDRESS = re.compile(r'[\s\x00-\x1f\x7f-\x9f"(),:;<>\[\\\]\ud800-\udfff]')
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
_HEADER_END = re.compile(rb"\r?\n\r?\n")  # where an attached message's headers end
_FOLDED = re.compile(rb"\r?\n[ \t]")


@lru_cache(maxsize=1024)
def _domain_renders(domain: str) -> bool:
    try:
        domain.encode("idna")  # what Django does to a non-ASCII domain
    except UnicodeError:
        return False
    return True


def _address_text(pair: Pair) -> str | None:
    """The pair as one header item, or None when its address is not a plain local@domain."""
    name, email = pair[0], pair[1].strip()  # a space inside is no part of one address
    local, _, domain = email.partition("@")
    if not local or not domain or "@" in domain or _NOT_IN_ADDRESS.search(email):
        return None
    if not domain.isascii() and not _domain_renders(domain):
        return None
    return address(_CONTROLS.sub("", name[:MAX_HEADER_LENGTH]), email)


def _addresses(pairs: Iterable[Pair]) -> list[str]:
    """The renderable addresses among the first MAX_ADDRESSES pairs, each once, while they fit
    in MAX_HEADER_LENGTH characters."""
    kept: list[str] = []
    seen: set[str] = set()
    length = 0
    for pair in islice(pairs, MAX_ADDRESSES):
        text = _address_text(pair)
        key = pair[1].strip().lower()
        if text is None or key in seen:
            continue
        length += len(text) + 2
        if length > MAX_HEADER_LENGTH:
            break
        seen.add(key)
        kept.append(text)
    return kept


def _headers(pairs: Iterable[Pair]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name, value in pairs:
        if _FIELD_NAME.fullmatch(name) and name.lower() not in _STRUCTURAL_HEADERS:
            headers.setdefault(name, one_line(value[:MAX_HEADER_LENGTH]))
    return headers


def _filename(name: str) -> str | None:
    return one_line(name[:MAX_HEADER_LENGTH]) or None


def _decoded(file: File) -> bytes | str:
    """A text attachment's bytes decoded by its charset (Django would read them as UTF-8)."""
    content, charset = file.content, file.params.get("charset", "")
    text = None
    if isinstance(content, bytes) and file.kind.startswith("text/") and charset:
        text = decode(content, charset)
    return content if text is None else text


def _headers_fit(data: bytes) -> bool:
    """Whether every header of an attached message fits MAX_HEADER_LENGTH once unfolded (Django
    refolds them all when it renders the message/rfc822 part)."""
    end = _HEADER_END.search(data)
    head = _FOLDED.sub(b" ", data[: end.start()] if end else data)
    return all(len(line) <= MAX_HEADER_LENGTH for line in head.splitlines())


def _attached_message_renders(name: str, content: bytes | str, kind: str) -> bool:
    """Whether Django writes this message/* attachment: each version refuses some subtypes
    (delivery-status before Django 6, partial from it), and refolds every header."""
    if not isinstance(content, bytes) or not _headers_fit(content):
        return False
    probe = EmailMessage()
    probe.attach(_filename(name), content, kind)
    return renders(probe)


def _inline_part(file: File, content_id: str) -> MIMEBase | MIMEPart:
    """A MIME part with the file's Content-ID, inline, with every parameter of its type: the
    kind of part that ``attach()`` takes (a ``MIMEPart`` from Django 6, a ``MIMEBase`` before)."""
    data = file.content.encode() if isinstance(file.content, str) else file.content
    params = dict(file.params, charset="utf-8") if isinstance(file.content, str) else file.params
    maintype, subtype = file.kind.split("/")
    name = _filename(file.name)
    if django.VERSION >= (6,):
        part = MIMEPart()
        part.set_content(
            data, maintype, subtype, disposition="inline", filename=name, cid=content_id
        )
        for key, value in params.items():
            part.set_param(key, value)
        return part
    legacy = MIMEBase(maintype, subtype)
    for key, value in params.items():
        legacy.set_param(key, value)
    legacy.set_payload(data)
    encoders.encode_base64(legacy)
    if name is None:
        legacy.add_header("Content-Disposition", "inline")
    else:
        # Django's own form for a name that is not ASCII (RFC 2231).
        legacy.add_header("Content-Disposition", "inline", filename=("utf-8", "", name))
    legacy.add_header("Content-ID", content_id)
    return legacy


def _attach(message: EmailMultiAlternatives, file: File) -> None:
    kind, content = file.kind, _decoded(file)
    if kind.startswith("multipart/") or not CONTENT_TYPE.fullmatch(kind):
        kind = OCTET_STREAM  # a multipart's content is parts, never one file's bytes
    if kind.startswith("message/") and not _attached_message_renders(file.name, content, kind):
        kind = OCTET_STREAM
    content_id = "".join(file.content_id.split()).removeprefix("cid:").strip("<>")
    # An attached message is no inline image: its part is Django's to write.
    if content_id and _CONTENT_ID.fullmatch(content_id) and not kind.startswith("message/"):
        inline = File(file.name, content, kind, file.params)
        message.attach(_inline_part(inline, f"<{content_id}>"))
    else:
        message.attach(_filename(file.name), content, kind)


def _assemble(parts: Parts) -> EmailMultiAlternatives:
    message = EmailMultiAlternatives(
        subject=one_line(parts.subject[:MAX_HEADER_LENGTH]),
        body=parts.body,
        from_email=next(iter(_addresses([parts.from_email])), ""),
        to=_addresses(parts.to),
        cc=_addresses(parts.cc),
        bcc=_addresses(parts.bcc),
        reply_to=_addresses(parts.reply_to) or None,
        headers=_headers(parts.headers),
    )
    if parts.html:
        message.attach_alternative(parts.html, "text/html")
    for file in parts.attachments:
        _attach(message, file)
    return message


def renders(message: EmailMessage) -> bool:
    try:
        message.message().as_bytes()
    except Exception:  # whatever Django's or the stdlib's mail code raises
        return False
    return True


def build_if_renders(parts: Parts) -> EmailMultiAlternatives | None:
    message = _assemble(parts)
    return message if renders(message) else None


def build(parts: Parts) -> EmailMultiAlternatives:
    message = _assemble(parts)
    if not renders(message):
        # Something no rule above foresaw: keep what is certain to render, the text and the
        # attachments' bytes as opaque files; the event still holds every field as sent.
        message.extra_headers = {}
        message.alternatives = []
        message.attachments = []
        for file in parts.attachments:
            message.attach(_filename(file.name), _bytes(file.content), OCTET_STREAM)
    return message


def _bytes(content: object) -> bytes:
    return content if isinstance(content, bytes) else str(content).encode("utf-8", "replace")
