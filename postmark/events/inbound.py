"""Inbound mail, as Postmark's inbound webhook posts it (no RecordType)."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, ClassVar

from django.core.mail import EmailMultiAlternatives

from . import compose, mail, mime
from .fields import (
    InvalidPayload,
    json_object,
    list_of,
    nested,
    postmark_field,
    read_dataclass,
    text,
)

INBOUND = "Inbound"


@dataclass(frozen=True)
class Address:
    email: str = postmark_field("Email")
    name: str = postmark_field("Name")
    mailbox_hash: str = postmark_field("MailboxHash")

    def __str__(self) -> str:
        return mail.address(self.name, self.email)


@dataclass(frozen=True)
class Header:
    name: str = postmark_field("Name")
    value: str = postmark_field("Value")


def _base64(encoded: Any) -> bytes | None:
    if not isinstance(encoded, str):
        return None
    compact = "".join(encoded.split())
    try:
        return base64.b64decode(compact + "=" * (-len(compact) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None


_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def _canonical_size(encoded: str) -> int | None:
    """What base64 as Postmark writes it (one line of the alphabet, padded to a multiple of 4)
    decodes to, in bytes, found without decoding it (a few times faster); None for any other
    text, which is then decoded to find out."""
    if not encoded.isascii() or len(encoded) % 4:
        return None
    padding = encoded.encode("ascii").translate(None, _ALPHABET)
    if padding not in (b"", b"=", b"==") or not encoded.endswith(padding.decode()):
        return None
    return len(encoded) // 4 * 3 - len(padding)


@dataclass(frozen=True)
class Attachment:
    name: str = postmark_field("Name")
    content_type: str = postmark_field("ContentType", default="application/octet-stream")
    content_id: str = postmark_field("ContentID")
    #: The content as sent, base64. Postmark's "check" button sends it as "Data", not "Content".
    encoded: str = postmark_field("Content", "Data", read=text)
    #: The content's size in bytes, known without decoding it.
    size: int = field(init=False, default=0, compare=False)

    def __post_init__(self) -> None:
        # The webhook checks the content but leaves the decoding to whoever reads ``content``
        # (the worker): base64 that is not Postmark's own is decoded here, and kept.
        size = _canonical_size(self.encoded)
        if size is None and self.encoded:
            decoded = _base64(self.encoded)
            if not decoded:
                raise InvalidPayload(f"attachment {self.name!r} is not base64")
            self.__dict__["content"] = decoded
            size = len(decoded)
        object.__setattr__(self, "size", size or 0)

    @cached_property
    def content(self) -> bytes:
        """The content, decoded on first use."""
        return _base64(self.encoded) or b""


def _attachments(value: Any) -> list[Attachment] | None:
    return list_of(Attachment)(value)


def _headers(value: Any) -> list[tuple[str, str]] | None:
    headers = list_of(Header)(value)
    return None if headers is None else [(h.name, h.value) for h in headers]


@dataclass
class InboundEvent:
    """An inbound message; ``message`` is it as a Django ``EmailMultiAlternatives``."""

    message_id: str = postmark_field("MessageID")
    message_stream: str = postmark_field("MessageStream")
    from_email: str = postmark_field("From")
    from_name: str = postmark_field("FromName")
    from_full: Address = postmark_field("FromFull", read=nested(Address), factory=Address)
    to: str = postmark_field("To")
    to_full: list[Address] = postmark_field("ToFull", read=list_of(Address), factory=list)
    cc: str = postmark_field("Cc")
    cc_full: list[Address] = postmark_field("CcFull", read=list_of(Address), factory=list)
    bcc: str = postmark_field("Bcc")
    bcc_full: list[Address] = postmark_field("BccFull", read=list_of(Address), factory=list)
    reply_to: str = postmark_field("ReplyTo")
    original_recipient: str = postmark_field("OriginalRecipient")
    subject: str = postmark_field("Subject")
    date: str = postmark_field("Date")
    mailbox_hash: str = postmark_field("MailboxHash")
    tag: str = postmark_field("Tag")
    text_body: str = postmark_field("TextBody")
    html_body: str = postmark_field("HtmlBody")
    stripped_text_reply: str = postmark_field("StrippedTextReply")
    headers: list[tuple[str, str]] = postmark_field("Headers", read=_headers, factory=list)
    attachments: list[Attachment] = postmark_field("Attachments", read=_attachments, factory=list)
    #: The whole message as MIME, when the inbound stream is set to include it.
    raw_email: str = postmark_field("RawEmail")
    metadata: dict[str, Any] = postmark_field("Metadata", read=json_object, factory=dict)

    record_type: ClassVar[str] = INBOUND

    def __post_init__(self) -> None:
        self.from_email = self.from_email or self.from_full.email
        self.from_name = self.from_name or self.from_full.name

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> InboundEvent:
        return read_dataclass(cls, payload, INBOUND)

    @cached_property
    def message(self) -> EmailMultiAlternatives:
        """The mail as a Django message, attachments decoded; built on first use, from RawEmail
        when Postmark sent it and it is readable, else from the JSON fields. Every recipient the
        JSON names is on it either way (a Bcc is in the JSON only: no raw copy shows it). It
        always builds, and its ``message()`` always renders: what would not render is left out,
        and each header is bounded (``mail.MAX_ADDRESSES``, ``mail.MAX_HEADER_LENGTH``)."""
        raw = mime.parts(self.raw_email) if self.raw_email else None
        if raw is not None:
            # The raw headers' addresses first (their names as the sender wrote them), then the
            # JSON's that they lack; compose.build reads each address once.
            raw.to += self._to()
            raw.cc += self._cc()
            raw.bcc += self._bcc()
            raw.reply_to += self._reply_to()
            built = compose.build_if_renders(raw)
            if built is not None:
                return built
        sender = self.from_full if self.from_full.email else Address(self.from_email)
        return compose.build(
            mail.Parts(
                subject=self.subject,
                body=self.text_body,
                html=self.html_body,
                from_email=(sender.name, sender.email),
                to=self._to(),
                cc=self._cc(),
                bcc=self._bcc(),
                reply_to=self._reply_to(),
                headers=self.headers + ([("Date", self.date)] if self.date else []),
                attachments=[
                    mail.File(a.name, a.content, *mail.content_type(a.content_type), a.content_id)
                    for a in self.attachments
                ],
            )
        )

    def _to(self) -> list[mail.Pair]:
        return _recipients(self.to_full, self.to)

    def _cc(self) -> list[mail.Pair]:
        return _recipients(self.cc_full, self.cc)

    def _bcc(self) -> list[mail.Pair]:
        return _recipients(self.bcc_full, self.bcc)

    def _reply_to(self) -> list[mail.Pair]:
        return mail.parse_addresses(self.reply_to)


def _recipients(full: list[Address], plain: str) -> list[mail.Pair]:
    """The field's addresses (the first MAX_ADDRESSES): from its ``...Full`` list, else from
    its text."""
    if full:
        kept = [a for a in full[: mail.MAX_ADDRESSES] if a.email]
        return [(a.name, a.email) for a in kept]
    return mail.parse_addresses(plain)
