"""Postmark options on Django messages, the message-to-payload conversion, and the result.

Any Django ``EmailMessage`` may carry Postmark options as attributes (``message.tag = "welcome"``);
``PostmarkEmailMessage`` and ``PostmarkEmailMultiAlternatives`` take them as keyword arguments.
"""

from __future__ import annotations

import base64
import email.message
import mimetypes
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import getaddresses
from functools import lru_cache
from typing import Any

from django.conf import settings as django_settings
from django.core.mail import EmailMessage, EmailMultiAlternatives

from .exceptions import (
    PostmarkError,
    UnsupportedMessageError,
    api_error,
    parse_inactive_recipients,
)
from .timestamps import parse_timestamp

MAX_RECIPIENTS = 50
MAX_MESSAGE_BYTES = 10 * 1024 * 1024
MAX_TAG_LENGTH = 1000
TRACK_LINKS_VALUES = ("None", "HtmlAndText", "HtmlOnly", "TextOnly")
OPTION_NAMES = (
    "tag",
    "metadata",
    "track_opens",
    "track_links",
    "message_stream",
    "template_id",
    "template_alias",
    "template_model",
    "inline_css",
)

# Result statuses.
SENT = "sent"
FAILED = "failed"
SUPPRESSED = "suppressed"
UNKNOWN = "unknown"  # Postmark may or may not have accepted it (timeout, 500, dropped connection)
QUEUED = "queued"


@dataclass
class PostmarkResult:
    """What became of one message; the backend leaves one on every message as ``.postmark``."""

    status: str
    message_id: str | None = None
    submitted_at: datetime | None = None
    recipients: list[str] = field(default_factory=list)
    error_code: int | None = None
    message: str = ""
    error: PostmarkError | None = None
    #: Addresses Postmark accepted the message for but will not deliver to (inactive).
    inactive_recipients: list[str] = field(default_factory=list)

    @property
    def accepted(self) -> bool:
        return self.status == SENT

    @classmethod
    def from_api(cls, answer: Mapping[str, Any], message: EmailMessage) -> PostmarkResult:
        """A result from one item of Postmark's answer (ErrorCode may be missing: accepted)."""
        code = answer.get("ErrorCode") or 0
        text = str(answer.get("Message") or "")
        to = answer.get("To")
        recipients = _split_addresses(str(to)) if to else list(message.recipients())
        if code:
            error = api_error(422, int(code), text)
            return cls(
                FAILED, recipients=recipients, error_code=int(code), message=text, error=error
            )
        return cls(
            SENT,
            message_id=answer.get("MessageID"),
            submitted_at=parse_timestamp(answer.get("SubmittedAt")),
            recipients=recipients,
            error_code=0,
            message=text,
            inactive_recipients=parse_inactive_recipients(text),
        )

    @classmethod
    def from_error(cls, error: PostmarkError, message: EmailMessage) -> PostmarkResult:
        may_have_been_sent = getattr(error, "may_have_been_sent", False) or (
            error.http_status is not None and error.http_status >= 500 and error.http_status != 503
        )
        return cls(
            UNKNOWN if may_have_been_sent else FAILED,
            recipients=list(message.recipients()),
            error_code=error.error_code,
            message=error.message,
            error=error,
        )


def bare_address(recipient: str) -> str:
    """The address part of ``"Name <a@b>"`` or ``"a@b"``, lowercased ("" if there is none).

    As ``email.utils.parseaddr(recipient)[1].lower()``, at a fraction of its cost for the common
    forms, for code that looks at every recipient of a batch (suppression lists...).
    """
    match = _PLAIN_ADDRESS.fullmatch(recipient) or _NAMED_ADDRESS.fullmatch(recipient)
    if match is not None:
        return str(match.group(match.lastindex or 1)).lower()
    return getaddresses([recipient])[0][1].lower() if recipient else ""


def _split_addresses(text: str) -> list[str]:
    """The bare addresses in Postmark's "To" of a result ("a@x, Name <b@y>")."""
    addresses = []
    for part in text.split(","):
        match = _PLAIN_ADDRESS.fullmatch(part) or _NAMED_ADDRESS.fullmatch(part)
        if match is None:
            # Quoted names (which may hold commas), comments, groups: the exact parser.
            return [address for _, address in getaddresses([text]) if address]
        addresses.append(match.group(match.lastindex or 1))
    return addresses


class PostmarkMessageMixin:
    def __init__(
        self,
        *args: Any,
        tag: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        track_opens: bool | None = None,
        track_links: str | None = None,
        message_stream: str | None = None,
        template_id: int | None = None,
        template_alias: str | None = None,
        template_model: Mapping[str, Any] | None = None,
        inline_css: bool | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.tag = tag
        self.metadata = metadata
        self.track_opens = track_opens
        self.track_links = track_links
        self.message_stream = message_stream
        self.template_id = template_id
        self.template_alias = template_alias
        self.template_model = template_model
        self.inline_css = inline_css


class PostmarkEmailMessage(PostmarkMessageMixin, EmailMessage):
    """An ``EmailMessage`` that takes Postmark's options as keyword arguments."""


class PostmarkEmailMultiAlternatives(PostmarkMessageMixin, EmailMultiAlternatives):
    """An ``EmailMultiAlternatives`` that takes Postmark's options as keyword arguments."""


@dataclass(frozen=True)
class Defaults:
    """Option defaults from settings, read once per send rather than once per message."""

    tag: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    track_opens: bool | None = None
    track_links: str | None = None
    message_stream: str | None = None

    @classmethod
    def from_settings(cls) -> Defaults:
        from .conf import settings

        return cls(
            tag=settings.POSTMARK_TAG,
            metadata=settings.POSTMARK_METADATA or {},
            track_opens=settings.POSTMARK_TRACK_OPENS,
            track_links=settings.POSTMARK_TRACK_LINKS,
            message_stream=settings.POSTMARK_MESSAGE_STREAM,
        )


def is_template(message: EmailMessage) -> bool:
    return bool(getattr(message, "template_id", None) or getattr(message, "template_alias", None))


def check_recipients(message: EmailMessage) -> None:
    count = len(message.to) + len(message.cc) + len(message.bcc)
    if count > MAX_RECIPIENTS:
        raise UnsupportedMessageError(
            f"Postmark accepts at most {MAX_RECIPIENTS} recipients (To, Cc and Bcc together) per "
            f"message; this one has {count}. Split it into several messages."
        )


def to_payload(message: EmailMessage, defaults: Defaults | None = None) -> dict[str, Any]:
    """The JSON object Postmark's sending API takes for this message.

    Raises UnsupportedMessageError, before anything is sent, for what Postmark cannot carry.
    """
    defaults = defaults or Defaults()
    check_recipients(message)
    payload: dict[str, Any] = {}
    headers = dict(message.extra_headers) if message.extra_headers else {}
    from_header = None
    reply_to: list[str | tuple[str, str]] = list(message.reply_to)
    if headers:
        header_names = {name.lower(): name for name in headers}
        # Postmark builds these headers from the payload's own fields; a copy in Headers would
        # be ignored or conflict, so From and Reply-To are mapped and the others refused.
        for refused in ("to", "cc", "bcc", "subject", "content-type"):
            if refused in header_names:
                raise UnsupportedMessageError(
                    f"Postmark builds the {header_names[refused]} header itself; set it on the "
                    "message (to, cc, bcc, subject) instead of in extra headers."
                )
        if "from" in header_names:
            from_header = headers.pop(header_names["from"])
        # As in Django's own message(), a Reply-To header wins over the reply_to attribute.
        if "reply-to" in header_names:
            reply_to = [
                (name, address)
                for name, address in getaddresses([str(headers.pop(header_names["reply-to"]))])
                if address
            ]

    payload["From"] = format_address(
        from_header or message.from_email or django_settings.DEFAULT_FROM_EMAIL
    )
    for key, addresses in (("To", message.to), ("Cc", message.cc), ("Bcc", message.bcc)):
        if addresses:
            payload[key] = ", ".join(format_address(a) for a in addresses)
    if reply_to:
        payload["ReplyTo"] = ", ".join(format_address(a) for a in reply_to)

    template = is_template(message)
    if template:
        _add_template(payload, message)
    else:
        payload["Subject"] = message.subject or ""
        payload.update(_bodies(message))

    tag = getattr(message, "tag", None) or defaults.tag
    if tag:
        if len(tag) > MAX_TAG_LENGTH:
            raise UnsupportedMessageError(f"Postmark tags are at most {MAX_TAG_LENGTH} characters.")
        payload["Tag"] = tag
    metadata = {**defaults.metadata, **(getattr(message, "metadata", None) or {})}
    if metadata:
        payload["Metadata"] = _metadata(metadata)
    track_opens = getattr(message, "track_opens", None)
    track_opens = defaults.track_opens if track_opens is None else track_opens
    if track_opens is not None:
        payload["TrackOpens"] = bool(track_opens)
    track_links = getattr(message, "track_links", None) or defaults.track_links
    if track_links is not None:
        if track_links not in TRACK_LINKS_VALUES:
            raise UnsupportedMessageError(
                f"track_links must be one of {', '.join(TRACK_LINKS_VALUES)}, not {track_links!r}."
            )
        payload["TrackLinks"] = track_links
    stream = getattr(message, "message_stream", None) or defaults.message_stream
    if stream:
        payload["MessageStream"] = stream
    if headers:
        payload["Headers"] = [
            {"Name": name, "Value": str(value)} for name, value in headers.items()
        ]

    attachments = [_attachment(item) for item in message.attachments]
    if attachments:
        payload["Attachments"] = attachments
    size = len(payload.get("HtmlBody") or "") + len(payload.get("TextBody") or "")
    for attachment in attachments:
        size += len(attachment["Content"])
    if size > MAX_MESSAGE_BYTES:
        raise UnsupportedMessageError(
            f"Postmark accepts messages of at most 10 MB with attachments; this one is "
            f"{size / 1024 / 1024:.1f} MB once encoded."
        )
    return payload


def format_address(address: str | tuple[str, str]) -> str:
    """``Name <local@domain>`` with the domain in IDNA (punycode) and the name quoted if needed."""
    if isinstance(address, tuple | list):
        name, addr = address
        return _join_address(str(name), str(addr), address)
    return _format_address_string(str(address))


# Characters that need the full RFC 5322 parser (quotes, comments, groups, several addresses).
_ATOM = r"[^\s@<>()\[\],;:\\\"]+"
_PLAIN_ADDRESS = re.compile(rf"\s*({_ATOM}@{_ATOM})\s*")
_NAMED_ADDRESS = re.compile(rf"\s*([^<>()\[\],;:\\\"@]*?)\s*<({_ATOM}@{_ATOM})>\s*")


@lru_cache(maxsize=4096)
def _format_address_string(address: str) -> str:
    # email.utils.getaddresses is exact but slow (about 50 us an address); most addresses are
    # "a@b" or "Name <a@b>", which a regular expression reads the same way much faster. The same
    # From address recurs in every message of a send, hence the cache.
    plain = _PLAIN_ADDRESS.fullmatch(address)
    if plain:
        return _join_address("", plain.group(1), address)
    named = _NAMED_ADDRESS.fullmatch(address)
    if named:
        return _join_address(named.group(1), named.group(2), address)
    parsed = getaddresses([address])
    if len(parsed) != 1 or not parsed[0][1]:
        raise UnsupportedMessageError(f"{address!r} is not one email address.")
    return _join_address(*parsed[0], address)


def _join_address(name: str, addr: str, original: object) -> str:
    local, at, domain = addr.rpartition("@")
    if not at or not local or not domain:
        raise UnsupportedMessageError(f"{original!r} is not a valid email address.")
    if not domain.isascii():
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError as exc:
            raise UnsupportedMessageError(f"{original!r} has an invalid domain: {exc}") from exc
        addr = f"{local}@{domain}"
    if not name:
        return addr
    if any(char in name for char in '()<>@,;:\\".[]'):
        name = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return f"{name} <{addr}>"


def _bodies(message: EmailMessage) -> dict[str, str]:
    subtype = message.content_subtype
    if subtype not in ("plain", "html"):
        raise UnsupportedMessageError(
            f"Postmark sends text/plain and text/html bodies only, not text/{subtype}."
        )
    bodies: dict[str, str] = {}
    body_key = "HtmlBody" if subtype == "html" else "TextBody"
    if message.body:
        bodies[body_key] = str(message.body)
    for alternative in getattr(message, "alternatives", None) or []:
        content, mimetype = alternative[0], alternative[1]
        key = {"text/html": "HtmlBody", "text/plain": "TextBody"}.get(mimetype)
        if key is None:
            raise UnsupportedMessageError(
                f"Postmark cannot send a {mimetype} alternative; it takes one text/plain and one "
                "text/html body."
            )
        if key in bodies:
            raise UnsupportedMessageError(
                f"Postmark takes one {'HTML' if key == 'HtmlBody' else 'text'} body per message; "
                "this message has two."
            )
        bodies[key] = content.decode() if isinstance(content, bytes) else str(content)
    if not bodies:
        raise UnsupportedMessageError(
            "Postmark needs a text or an HTML body; this message has neither (or a template)."
        )
    return bodies


def _add_template(payload: dict[str, Any], message: EmailMessage) -> None:
    if message.subject or message.body or getattr(message, "alternatives", None):
        raise UnsupportedMessageError(
            "A template message takes its subject and bodies from the Postmark template; "
            "leave subject, body and alternatives empty."
        )
    template_id = getattr(message, "template_id", None)
    if template_id:
        payload["TemplateId"] = template_id
    else:
        payload["TemplateAlias"] = message.template_alias  # type: ignore[attr-defined]
    payload["TemplateModel"] = dict(getattr(message, "template_model", None) or {})
    inline_css = getattr(message, "inline_css", None)
    if inline_css is not None:
        payload["InlineCss"] = bool(inline_css)


def _metadata(metadata: Mapping[str, Any]) -> dict[str, str]:
    seen: dict[str, str] = {}
    for key in metadata:
        folded = str(key).lower()
        if folded in seen:
            raise UnsupportedMessageError(
                f"Metadata keys {seen[folded]!r} and {key!r} differ only by case; Postmark "
                "refuses that."
            )
        seen[folded] = str(key)
    return {str(key): "" if value is None else str(value) for key, value in metadata.items()}


def _attachment(item: Any) -> dict[str, str]:
    if isinstance(item, email.message.Message):
        filename = item.get_filename()
        raw = item.get_payload(decode=True)
        content = raw if isinstance(raw, bytes) else str(item.get_payload()).encode()
        mimetype = item.get_content_type()
        content_id = item.get("Content-ID")
    else:
        filename, content, mimetype = item[0], item[1], item[2]
        content_id = None
        if isinstance(content, str):
            content = content.encode("utf-8")
    if not mimetype:
        mimetype = mimetypes.guess_type(filename or "")[0] or "application/octet-stream"
    attachment = {
        "Name": filename or (content_id or "attachment").strip("<>"),
        "Content": base64.b64encode(content).decode("ascii"),
        "ContentType": mimetype,
    }
    if content_id:
        attachment["ContentID"] = "cid:" + str(content_id).strip().strip("<>")
    return attachment
