"""Inbound mail's parts, read from Postmark's JSON fields or from the raw MIME (``mime``), before
``compose`` makes them a Django message; the rules for reading address fields and content types;
and the limits of what the message holds.

The sender controls how much there is of everything, and Django 6 renders a header in time that
grows faster than its length, so the message's headers are bounded (the limits below); the
event's fields and the stored payload keep everything as sent.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache

from ..sending.addresses import address_list

#: At most this many addresses of each field (From, To, Cc, Bcc, Reply-To) are read onto the
#: message; the rest stay in the event's fields (``to_full``...) and the stored payload.
MAX_ADDRESSES = 1000
#: Every header of the message holds at most this many characters: the subject, each address
#: field (the addresses that would not fit are left out), each other header and each filename
#: (cut). An address field written as text (``To``, ``RawEmail``'s headers) is read up to this
#: length. 32 KiB is far beyond real mail, and keeps Django 6's rendering of a header fast.
MAX_HEADER_LENGTH = 32 * 1024

_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
CONTENT_TYPE = re.compile(rf"{_TOKEN}/{_TOKEN}", re.ASCII)
_PARAMETER_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*+"?|[^";]++|;', re.DOTALL)
_PARAMETER_NAME = re.compile(_TOKEN, re.ASCII)
_PARAMETER_VALUE = re.compile(r"[ -~]*", re.ASCII)  # printable ASCII: any header takes it
_ESCAPED = re.compile(r"\\(.)", re.DOTALL)
_CHARSET = re.compile(r"[A-Za-z0-9_.:+-]{1,40}")
OCTET_STREAM = "application/octet-stream"
_SPECIALS = re.compile(r'[()<>\[\]:;@\\,."]')  # a display name with one of these is quoted
Pair = tuple[str, str]  # (display name, address)


@dataclass
class File:
    """An attachment: its content type read into ``kind`` (``type/subtype``) and ``params``."""

    name: str
    content: bytes | str
    kind: str = OCTET_STREAM
    params: dict[str, str] = field(default_factory=dict)
    content_id: str = ""


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
    attachments: list[File] = field(default_factory=list)


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
    """The first MAX_ADDRESSES addresses of an address field written as text, read up to
    MAX_HEADER_LENGTH characters."""
    if len(value) <= MAX_HEADER_LENGTH:
        return address_list(value, limit=MAX_ADDRESSES)
    pairs = address_list(value[:MAX_HEADER_LENGTH], limit=MAX_ADDRESSES + 1)
    # Unless the limit stopped the reading first, the cut may have halved the last address.
    return pairs[:MAX_ADDRESSES] if len(pairs) > MAX_ADDRESSES else pairs[:-1]


def content_type(value: str) -> tuple[str, dict[str, str]]:
    """``("type/subtype", {parameter: value})`` of a Content-Type such as ``Text/Plain ;
    charset="utf-8"``; ``application/octet-stream`` without parameters when it is not one.
    Parameters that are not ``token=value`` with a printable ASCII value are left out."""
    kind, _, rest = value[:MAX_HEADER_LENGTH].partition(";")
    kind = "".join(kind.split()).lower()
    if not CONTENT_TYPE.fullmatch(kind):
        return OCTET_STREAM, {}
    params: dict[str, str] = {}
    for item in _parameters(rest):
        name, equals, raw = item.partition("=")
        name, raw = name.strip().lower(), raw.strip()
        if raw.startswith('"'):
            raw = _ESCAPED.sub(r"\1", raw[1:].removesuffix('"'))
        if equals and _PARAMETER_NAME.fullmatch(name) and _PARAMETER_VALUE.fullmatch(raw):
            params.setdefault(name, raw)
    return kind, params


def _parameters(text: str) -> Iterator[str]:
    """Each ``name=value`` of a parameter list: split at the semicolons outside quotes."""
    item: list[str] = []
    for token in _PARAMETER_TOKEN.findall(text):
        if token == ";":
            yield "".join(item)
            item = []
        else:
            item.append(token)
    yield "".join(item)


def decode(data: bytes, charset: str, errors: str = "strict") -> str | None:
    """``data`` as text in ``charset``; None when Python has no text codec of that name, or the
    data does not decode (with ``errors="strict"``)."""
    if not _text_codec(charset):
        return None
    try:
        return data.decode(charset, errors)
    except (ValueError, LookupError, TypeError):  # UnicodeError; "idna" takes "strict" only
        return None


@lru_cache(maxsize=256)
def _text_codec(charset: str) -> bool:
    # A name of at most 40 characters: each new name the codec registry is asked about stays in
    # its cache for good. (Decoding b"" asks nothing: it is "" for any name, even unknown.)
    if not _CHARSET.fullmatch(charset):
        return False
    try:
        codecs.lookup(charset)
        b"x".decode(charset)
    except LookupError:  # unknown, or not a text encoding ("base64")
        return False
    except ValueError:  # a text encoding that "x" alone does not fit (UTF-16)
        pass
    return True
