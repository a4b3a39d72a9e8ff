"""Signed reply addresses: ``reply+<token>@<inbound domain>`` for any model instance, and the
instance back from a reply to it (``resolve_reply`` takes the address or Postmark's
``MailboxHash``, the part after ``+``).

The token holds the object's content type, its primary key and an expiry, and an HMAC of them
under SECRET_KEY; one under any key of SECRET_KEY_FALLBACKS is accepted too, so that the key
can rotate without breaking the addresses already sent. It is not ``django.core.signing``'s
output, which is base64 (case-sensitive, where mail systems may change the case of a local
part) with a full signature (too long for the 64 characters RFC 5321 allows a local part): it
is the same primitive, ``salted_hmac``, over a compact binary form written in lowercase base32
(the letters and the digits 2-7: valid unquoted in a local part, and read back in any case).
"""

from __future__ import annotations

import base64
import binascii
import math
import re
import struct
import time
import uuid
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from django.core.exceptions import ImproperlyConfigured, ObjectDoesNotExist, ValidationError
from django.core.mail import EmailMessage
from django.db.models import Model
from django.utils.crypto import constant_time_compare, salted_hmac

from ..conf import settings
from ..sending.addresses import format_address

__all__ = [
    "MAX_LOCAL_PART",
    "TOKEN_SHAPE",
    "BadReplyAddress",
    "ReplyProblem",
    "reply_address",
    "resolve_reply",
    "set_reply_address",
]

#: The longest local part (what precedes "@") that RFC 5321 requires mail systems to carry.
MAX_LOCAL_PART = 64
# 80 bits of HMAC-SHA256. Only the server can check a tag, one inbound message per guess:
# forging an address takes 2**79 messages on average (at a million a second, over ten billion
# years). A truncated HMAC keeps the strength of its length (RFC 2104, section 5); the whole
# 256 bits would not fit in a local part beside a UUID.
_MAC_BYTES = 10
_SALT = "postmark.inbound.replies"
# The expiry: seconds since 1970 (unsigned, so until 2106); later ones are cut to that.
_EXPIRY = struct.Struct(">I")
# The kind of primary key, in the high half of the first byte (a later format takes others).
_INT, _UUID, _TEXT = 1, 2, 3
_SHORTEST = 1 + 1 + _EXPIRY.size + _MAC_BYTES  # a one-byte content type id, an empty text key
_TOKEN = re.compile(r"[a-z2-7]+", re.ASCII)
#: What a token looks like (lowercased): the base32 letters, at least as many as the shortest
#: token has, at most a local part's length. A refusal of anything else says little.
TOKEN_SHAPE = re.compile(rf"[a-z2-7]{{{math.ceil(_SHORTEST * 8 / 5)},{MAX_LOCAL_PART}}}", re.ASCII)
# A dot-atom without "+" (which separates the prefix from the token).
_ATOM = r"[A-Za-z0-9!#$%&'*/=?^_`{|}~-]+"
_PREFIX = re.compile(rf"{_ATOM}(?:\.{_ATOM})*")
_DOMAIN = re.compile(r"[^\s@<>()\[\],;:\\\"]+")
# Nothing longer is an address this module made: refused before it is read.
_LONGEST_INPUT = 1000


class ReplyProblem(StrEnum):
    """Why ``resolve_reply`` refused an address (``BadReplyAddress.reason``)."""

    MALFORMED = "malformed"
    TAMPERED = "tampered"
    EXPIRED = "expired"
    GONE = "gone"
    WRONG_MODEL = "wrong_model"


_EXPLANATIONS = {
    ReplyProblem.MALFORMED: "This is not a reply address made by postmark.inbound.replies.",
    ReplyProblem.TAMPERED: (
        "This reply address's signature does not match: it was changed, or signed with a key "
        "this site no longer has (neither SECRET_KEY nor one of SECRET_KEY_FALLBACKS)."
    ),
    ReplyProblem.EXPIRED: "This reply address has expired (see POSTMARK_REPLY_MAX_AGE).",
    ReplyProblem.GONE: "The object this reply address was made for no longer exists.",
    ReplyProblem.WRONG_MODEL: "This reply address was made for another kind of object.",
}


class BadReplyAddress(ValueError):
    """The address resolves to no object; ``reason`` (a ``ReplyProblem``) says why."""

    def __init__(self, reason: ReplyProblem) -> None:
        super().__init__(_EXPLANATIONS[reason])
        self.reason = reason


def reply_address(
    obj: Model,
    *,
    domain: str | None = None,
    max_age: timedelta | int | None = None,
    prefix: str = "reply",
) -> str:
    """``<prefix>+<token>@<domain>``: an address whose replies ``resolve_reply`` turns back
    into ``obj``, until ``max_age`` (seconds or a timedelta; POSTMARK_REPLY_MAX_AGE by default)
    has passed. ``domain`` defaults to POSTMARK_INBOUND_DOMAIN.

    ValueError if the local part would pass MAX_LOCAL_PART characters (a long prefix, or a
    text primary key of more than about 20 bytes), if ``obj`` has no primary key yet, or if its
    primary key is not an integer, a UUID or a string.
    """
    if not isinstance(prefix, str) or not _PREFIX.fullmatch(prefix):
        raise ValueError(f"prefix {prefix!r} is not a plain local part (letters, digits, dots).")
    local = f"{prefix}+{_token(obj, _max_age(max_age))}"
    if len(local) > MAX_LOCAL_PART:
        raise ValueError(
            f"{local!r} is {len(local)} characters; an address's local part holds at most "
            f"{MAX_LOCAL_PART}. Use a shorter prefix (and your own inbound domain rather than "
            "Postmark's hash address), or a model with an integer or UUID primary key."
        )
    return format_address(f"{local}@{_domain(domain)}", "reply address")


def set_reply_address(
    message: EmailMessage,
    obj: Model,
    *,
    name: str = "",
    domain: str | None = None,
    max_age: timedelta | int | None = None,
    prefix: str = "reply",
) -> str:
    """Make ``message``'s Reply-To the reply address of ``obj`` (shown as ``name`` if given);
    returns the address."""
    address = reply_address(obj, domain=domain, max_age=max_age, prefix=prefix)
    message.reply_to = [format_address((name, address), "Reply-To")]
    return address


def resolve_reply(
    address_or_mailbox_hash: str,
    *,
    model: type[Model] | tuple[type[Model], ...] | None = None,
    at: datetime | None = None,
) -> Model:
    """The object a reply address was made for, read from the address (``reply+...@...``, with
    a display name or not) or from its token alone (Postmark's ``MailboxHash``), in any case.
    Its expiry is checked at ``at`` (an aware datetime; now by default): a route passes the
    time the reply arrived.

    Raises BadReplyAddress (a ValueError), and nothing else, for any string that is not an
    address ``reply_address`` made (``reason``: malformed or tampered), for an expired one, for
    one whose object no longer exists (gone), and for one made for an object that is not an
    instance of ``model`` when that is given (wrong_model).
    """
    body = _verified(address_or_mailbox_hash)
    kind, id_size = body[0] >> 4, (body[0] & 0x0F) + 1
    pk_start = 1 + id_size + _EXPIRY.size
    if len(body) < pk_start:
        raise BadReplyAddress(ReplyProblem.MALFORMED)
    (expires,) = _EXPIRY.unpack_from(body, 1 + id_size)
    if (at.timestamp() if at is not None else time.time()) > expires:
        raise BadReplyAddress(ReplyProblem.EXPIRED)
    pk = _pk_from(kind, body[pk_start:])
    found = _model(int.from_bytes(body[1 : 1 + id_size], "big"))
    if found is None:
        raise BadReplyAddress(ReplyProblem.GONE)
    if model is not None and not issubclass(found, model):
        raise BadReplyAddress(ReplyProblem.WRONG_MODEL)
    try:
        # The default manager (documented as Model._default_manager): an object a project's
        # manager hides, such as a soft-deleted one, is gone for its replies too.
        return found._default_manager.get(pk=pk)
    except (ObjectDoesNotExist, ValidationError, ValueError, TypeError):
        raise BadReplyAddress(ReplyProblem.GONE) from None


def _token(obj: Model, seconds: float) -> str:
    # contenttypes is imported when it is used: importing this module must not require it.
    from django.contrib.contenttypes.models import ContentType

    kind, pk_bytes = _pk_bytes(obj.pk)
    # for_concrete_model=False: a proxy model's instance comes back as that proxy.
    type_id: int = ContentType.objects.get_for_model(obj, for_concrete_model=False).pk
    id_bytes = type_id.to_bytes(max(1, (type_id.bit_length() + 7) // 8), "big")
    expires = min(int(time.time() + seconds), 2**32 - 1)
    body = bytes([kind << 4 | (len(id_bytes) - 1)]) + id_bytes + _EXPIRY.pack(expires) + pk_bytes
    return _text(body + _mac(body, settings.SECRET_KEY))


def _pk_bytes(pk: Any) -> tuple[int, bytes]:
    if pk is None:
        raise ValueError("The object has no primary key yet: save it before making its address.")
    if isinstance(pk, int) and not isinstance(pk, bool):
        # Two's complement in as few bytes as hold the sign: negative keys exist.
        return _INT, pk.to_bytes((pk.bit_length() + 8) // 8, "big", signed=True)
    if isinstance(pk, uuid.UUID):
        return _UUID, pk.bytes
    if isinstance(pk, str):
        return _TEXT, pk.encode("utf-8")
    raise ValueError(
        f"A reply address holds an integer, UUID or text primary key, not a {type(pk).__name__}."
    )


def _pk_from(kind: int, data: bytes) -> Any:
    try:
        if kind == _INT and data:
            return int.from_bytes(data, "big", signed=True)
        if kind == _UUID:
            return uuid.UUID(bytes=data)
        if kind == _TEXT:
            return data.decode("utf-8")
    except ValueError:  # a wrong length for a UUID, text that is not UTF-8
        pass
    raise BadReplyAddress(ReplyProblem.MALFORMED)


def _model(type_id: int) -> type[Model] | None:
    from django.contrib.contenttypes.models import ContentType

    try:
        return ContentType.objects.get_for_id(type_id).model_class()
    except ContentType.DoesNotExist:
        return None


def _mac(body: bytes, key: str | bytes) -> bytes:
    return salted_hmac(_SALT, body, secret=key, algorithm="sha256").digest()[:_MAC_BYTES]


def _text(data: bytes) -> str:
    return base64.b32encode(data).decode("ascii").rstrip("=").lower()


def _verified(value: Any) -> bytes:
    """The token's body once its HMAC matches under one of the site's keys."""
    if not isinstance(value, str) or len(value) > _LONGEST_INPUT:
        raise BadReplyAddress(ReplyProblem.MALFORMED)
    # Exactly "local@domain" or "Name <local@domain>": no other address syntax (groups,
    # comments) is read, so that no character added to a token can make another one of it.
    token = value
    if token.endswith(">") and "<" in token:
        token = token[token.rindex("<") + 1 : -1]
    token = token.rpartition("@")[0] if "@" in token else token
    token = token.rpartition("+")[2].lower()
    if len(token) > MAX_LOCAL_PART or not _TOKEN.fullmatch(token):
        raise BadReplyAddress(ReplyProblem.MALFORMED)
    try:
        data = base64.b32decode(token.upper() + "=" * (-len(token) % 8))
    except (binascii.Error, ValueError):
        raise BadReplyAddress(ReplyProblem.MALFORMED) from None
    # The last character's unused bits must be zero: one token has one spelling, so that no
    # changed character still reads as the same token.
    if len(data) < _SHORTEST or _text(data) != token:
        raise BadReplyAddress(ReplyProblem.MALFORMED)
    body, mac = data[:-_MAC_BYTES], data[-_MAC_BYTES:]
    keys = [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]
    if not any(constant_time_compare(mac, _mac(body, key)) for key in keys):
        raise BadReplyAddress(ReplyProblem.TAMPERED)
    return body


def _max_age(value: timedelta | int | None) -> float:
    age = settings.POSTMARK_REPLY_MAX_AGE if value is None else value
    seconds = _seconds(age)
    if seconds is not None:
        return seconds
    problem = f"max_age must be a positive number of seconds or a timedelta, not {age!r}"
    if value is not None:
        raise ValueError(problem + ".")
    raise ImproperlyConfigured(f"POSTMARK_REPLY_MAX_AGE: {problem}, e.g. timedelta(days=30).")


def _seconds(age: object) -> float | None:
    if isinstance(age, timedelta):
        age = age.total_seconds()
    if isinstance(age, bool) or not isinstance(age, int | float):
        return None
    return float(age) if 0 < age < math.inf else None  # (NaN is neither)


def _domain(value: str | None) -> str:
    domain = value if value is not None else settings.POSTMARK_INBOUND_DOMAIN
    if isinstance(domain, str) and _DOMAIN.fullmatch(domain):
        return domain
    if value is not None:
        raise ValueError(f"domain {value!r} is not a mail domain.")
    raise ImproperlyConfigured(
        "POSTMARK_INBOUND_DOMAIN must name the domain whose mail Postmark receives for this "
        f'site (e.g. "reply.example.com"), or pass domain=; it is {domain!r}.'
    )
