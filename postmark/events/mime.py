"""Inbound mail's raw MIME (``RawEmail``) read into ``mail.Parts``, in time linear in its size.

The standard library's parser takes the MIME structure apart; its header parser and its header
objects, though, take time that grows faster than a header's length (a 0.5 MB To header:
seconds), and the sender writes the headers. So the parser is given a policy that hands every
header back as the text it is, and the rest is read here with the legacy ``Message`` methods,
which work on that text: address fields by ``addresses.address_list``, encoded words (RFC 2047)
by a decoder that never backtracks, and the Content-* headers, which shape the structure, from
at most ``_STRUCTURE_LENGTH`` characters (the legacy parameter parser is quadratic in a
header's length).

The body is the first text/plain and the first text/html part that is not an attachment and
has no filename (multiparts are walked in order, an attached message is not entered); every
other part is a file, with its Content-ID.
"""

from __future__ import annotations

import base64
import binascii
import re
from email import message_from_string
from email.message import Message
from email.policy import EmailPolicy
from typing import Any

from . import mail

# Real Content-Type and Content-Disposition headers, long filenames included, are far shorter.
_STRUCTURE_LENGTH = 4096
_ENCODED_WORD = re.compile(r"=\?([^?\s]++)\?([bBqQ])\?([^?\s]*+)\?=")
_ENCODED_BODY = frozenset(["base64", "quoted-printable", "x-uuencode", "uuencode", "x-uue", "uue"])


class _HeadersAsText(EmailPolicy):
    """``policy.default``, except that a header comes back as its text, never parsed into a
    header object; a Content-* header cut at _STRUCTURE_LENGTH characters."""

    def header_fetch_parse(self, name: str, value: str) -> Any:
        if not isinstance(value, str):  # set by a program: already a header object
            return super().header_fetch_parse(name, value)
        if name.lower().startswith("content-"):
            return mail.one_line(value[:_STRUCTURE_LENGTH])
        return value


_POLICY = _HeadersAsText()
# For writing an attached message back out as it came: no header is refolded (which would parse
# it with the standard library's header parser).
_VERBATIM = _POLICY.clone(refold_source="none")


def parts(raw: str) -> mail.Parts | None:
    """The message's parts; None when the MIME is unusable (no sender's address, or a structure
    the parser cannot take apart), for the caller to use the JSON fields instead."""
    try:
        return _parts(message_from_string(raw, policy=_POLICY))
    except Exception:  # hostile MIME: any parser error means "unusable"
        return None


def _parts(mime: Message) -> mail.Parts | None:
    def pairs(name: str) -> list[mail.Pair]:
        text = ", ".join(str(value) for value in mime.get_all(name) or [])
        return [(decode_words(n), a) for n, a in mail.parse_addresses(mail.one_line(text))]

    def header(value: object) -> str:
        return decode_words(mail.one_line(str(value)[: mail.MAX_HEADER_LENGTH]))

    senders = pairs("From")
    if not senders:
        return None
    body = html = None
    files: list[mail.File] = []
    for part in _leaves(mime):
        kind = part.get_content_type()
        # A text part with a filename is a file shown inline, not the body.
        candidate = part.get_content_disposition() != "attachment" and not part.get_filename()
        if candidate and kind == "text/plain" and body is None:
            body = _text(part)
        elif candidate and kind == "text/html" and html is None:
            html = _text(part)
        else:
            files.append(_file(part))
    return mail.Parts(
        subject=header(mime["Subject"] or ""),
        body=body or "",
        html=html or "",
        from_email=senders[0],
        to=pairs("To"),
        cc=pairs("Cc"),
        bcc=pairs("Bcc"),
        reply_to=pairs("Reply-To"),
        headers=[(name, header(value)) for name, value in mime.items()],
        attachments=files,
    )


def _leaves(mime: Message) -> list[Message]:
    """The parts that are not multiparts, in order; an attached message is one part."""
    leaves: list[Message] = []
    pending = [mime]
    while pending:
        part = pending.pop()
        if part.get_content_maintype() != "multipart":
            leaves.append(part)
        elif isinstance(payload := part.get_payload(), list):
            pending.extend(p for p in reversed(payload) if isinstance(p, Message))
    return leaves


def _text(part: Message) -> str:
    """A text part's content as text: decoded from its transfer encoding and its charset."""
    payload = part.get_payload()
    encoding = str(part.get("Content-Transfer-Encoding", "")).strip().lower()
    if isinstance(payload, str) and encoding not in _ENCODED_BODY:
        return payload  # already text: RawEmail is a JSON string
    data = part.get_payload(decode=True)
    if not isinstance(data, bytes):
        return ""
    text = mail.decode(data, part.get_content_charset() or "utf-8", "replace")
    return data.decode("utf-8", "replace") if text is None else text


def _file(part: Message) -> mail.File:
    kind, params = part.get_content_type(), mail.content_type(str(part["Content-Type"] or ""))[1]
    content: bytes | str
    payload = part.get_payload()
    if kind.startswith("message/") and isinstance(payload, list):
        # The attached message (a delivery status: its blocks), written out as it came.
        blocks = [p.as_string(policy=_VERBATIM) for p in payload if isinstance(p, Message)]
        content = "\n".join(blocks).encode("utf-8", "replace")
    elif kind.startswith("text/"):
        content = _text(part)
        params.pop("charset", None)  # already applied
    else:
        data = part.get_payload(decode=True)
        content = data if isinstance(data, bytes) else b""
    return mail.File(
        name=decode_words(str(part.get_filename() or "")),
        content=content,
        kind=kind,
        params=params,
        content_id=str(part["Content-ID"] or ""),
    )


def decode_words(text: str) -> str:
    """``text`` with its RFC 2047 encoded words (``=?utf-8?q?J=C3=B6hn?=``) decoded, and the
    spaces between two adjacent ones dropped; a word that does not decode is left as it is."""
    if "=?" not in text:
        return text
    pieces: list[str] = []
    end, after_word = 0, False
    for match in _ENCODED_WORD.finditer(text):
        decoded = _decoded_word(*match.groups())
        gap = text[end : match.start()]
        if not (after_word and decoded is not None and not gap.strip()):
            pieces.append(gap)
        pieces.append(match.group() if decoded is None else decoded)
        end, after_word = match.end(), decoded is not None
    pieces.append(text[end:])
    return "".join(pieces)


def _decoded_word(charset: str, encoding: str, encoded: str) -> str | None:
    if not encoded.isascii():
        return None
    try:
        if encoding in "qQ":
            data = binascii.a2b_qp(encoded, header=True)
        else:
            data = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None
    # RFC 2231 adds a language to the charset: "utf-8*en".
    return mail.decode(data, charset.partition("*")[0], "replace")
