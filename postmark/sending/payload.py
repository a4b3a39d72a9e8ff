"""A Django message as the JSON object Postmark's sending API takes.

One ``set_<field>`` step per part of the message, in the order ``to_payload`` runs them. Anything
Postmark could not carry, or that would break a header (CR or LF), raises UnsupportedMessageError
naming the field, before any request is made.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings as django_settings
from django.core.mail import EmailMessage

from ..api.spec import MAX_MESSAGE_BYTES, MAX_RECIPIENTS, MAX_TAG_LENGTH, TRACK_LINKS_VALUES
from ..exceptions import UnsupportedMessageError
from ..message import Defaults, is_template
from .addresses import address_list, format_address, refuse_line_breaks
from .attachments import attachment_of
from .metadata import add_link_id, metadata_of

#: Headers Postmark builds from the payload's own fields: a copy in Headers would be ignored or
#: conflict. (From and Reply-To are mapped to their fields instead.)
_BUILT_BY_POSTMARK = ("to", "cc", "bcc", "subject", "content-type")
_BODY_KEYS = {"text/html": "HtmlBody", "text/plain": "TextBody"}
_NO_DEFAULTS = Defaults()
_NO_HEADERS: dict[str, Any] = {}
#: Every field this app builds (lowercased: Postmark reads JSON keys case-insensitively). A
#: message's ``passthrough`` may not set one: its option does, with the checks that keep line
#: breaks out of headers, which a passthrough value would skip.
_BUILT_FIELDS = frozenset(
    name.lower()
    for name in (
        "From", "To", "Cc", "Bcc", "ReplyTo", "Subject", "HtmlBody", "TextBody", "Tag",
        "Metadata", "TrackOpens", "TrackLinks", "MessageStream", "Headers", "Attachments",
        "TemplateId", "TemplateAlias", "TemplateModel", "InlineCss", "Messages",
    )
)  # fmt: skip


@dataclass(frozen=True)
class BulkRecipient:
    """One recipient of a Bulk API message, with the options that are theirs alone (the shared
    template model already merged under their own)."""

    address: Any
    template_model: dict[str, Any]
    metadata: dict[str, Any]
    headers: dict[str, Any]


def to_payload(
    message: EmailMessage,
    defaults: Defaults | None = None,
    bulk_recipients: list[BulkRecipient] | None = None,
    link_id: str | None = None,
) -> dict[str, Any]:
    """The JSON object Postmark's sending API takes for this message; with ``bulk_recipients``,
    the Bulk API's: the message's content once, each recipient in its ``Messages``. ``link_id``
    goes in its Metadata under ``defaults.link_field`` (POSTMARK_LINK_FIELD).

    Raises UnsupportedMessageError, before anything is sent, for what Postmark cannot carry.
    """
    bulk = bulk_recipients is not None
    payload = _Payload(message, defaults or _NO_DEFAULTS, bulk=bulk, link_id=link_id).build()
    if bulk_recipients is not None:
        # Each recipient's model holds the shared one: it is not sent on its own.
        payload.pop("TemplateModel", None)
        payload["Messages"] = [_bulk_recipient(recipient) for recipient in bulk_recipients]
    return payload


def _bulk_recipient(recipient: BulkRecipient) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "To": format_address(recipient.address, "To"),
        "TemplateModel": recipient.template_model,
        "Metadata": metadata_of(recipient.metadata),
    }
    if recipient.headers:
        fields["Headers"] = headers_of(recipient.headers)
    return fields


def check_recipients(message: EmailMessage) -> None:
    count = len(message.to) + len(message.cc) + len(message.bcc)
    if count > MAX_RECIPIENTS:
        raise UnsupportedMessageError(
            f"Postmark accepts at most {MAX_RECIPIENTS} recipients (To, Cc and Bcc together) per "
            f"message; this one has {count}. Split it into several messages.",
            field="recipients",
        )


class _Payload:
    # One is made per message of a batch: slots, and no header dicts for a message without extra
    # headers (most), keep that cheap.
    __slots__ = ("bulk", "defaults", "header_names", "headers", "link_id", "message", "payload")

    def __init__(
        self,
        message: EmailMessage,
        defaults: Defaults,
        *,
        bulk: bool = False,
        link_id: str | None = None,
    ) -> None:
        self.message = message
        self.defaults = defaults
        self.link_id = link_id
        #: The Bulk API's shared content: the recipients go in its Messages instead.
        self.bulk = bulk
        self.payload: dict[str, Any] = {}
        # Extra headers still to place; set_from and set_reply_to take theirs out. The shared
        # empty dicts are never written to: pop_header returns early when there are no headers.
        if message.extra_headers:
            self.headers: dict[str, Any] = dict(message.extra_headers)
            self.header_names = {str(name).lower(): name for name in self.headers}
        else:
            self.headers, self.header_names = _NO_HEADERS, _NO_HEADERS

    def build(self) -> dict[str, Any]:
        if not self.bulk:
            check_recipients(self.message)
        self.refuse_built_headers()
        self.set_from()
        if not self.bulk:
            self.set_recipients()
        self.set_reply_to()
        if is_template(self.message):
            self.set_template()
        else:
            self.set_subject()
            self.set_bodies()
        self.set_tag()
        self.set_metadata()
        self.set_tracking()
        self.set_message_stream()
        self.set_headers()
        self.set_attachments()
        self.check_size()
        self.set_passthrough()
        return self.payload

    def pop_header(self, lowered: str) -> Any:
        if not self.header_names:  # the common case: no extra headers at all
            return None
        name = self.header_names.pop(lowered, None)
        return None if name is None else self.headers.pop(name)

    def refuse_built_headers(self) -> None:
        for refused in _BUILT_BY_POSTMARK:
            if refused in self.header_names:
                raise UnsupportedMessageError(
                    f"Postmark builds the {self.header_names[refused]} header itself; set it on "
                    "the message (to, cc, bcc, subject) instead of in extra headers.",
                    field=str(self.header_names[refused]),
                )

    def set_from(self) -> None:
        from_header = self.pop_header("from")
        sender = from_header or self.message.from_email or django_settings.DEFAULT_FROM_EMAIL
        self.payload["From"] = format_address(sender, "From")

    def set_recipients(self) -> None:
        for key, addresses in (("To", self.message.to), ("Cc", self.message.cc)):
            if addresses:
                self.payload[key] = ", ".join(format_address(a, key) for a in addresses)
        if self.message.bcc:
            self.payload["Bcc"] = ", ".join(format_address(a, "Bcc") for a in self.message.bcc)

    def set_reply_to(self) -> None:
        reply_to: list[Any] = list(self.message.reply_to)
        header = self.pop_header("reply-to")
        # As in Django's own message(), a Reply-To header wins over the reply_to attribute.
        if header is not None:
            # Checked before parsing, which would read "a@x\r\nBcc: b@y" as two addresses.
            text = refuse_line_breaks(str(header), "Reply-To")
            reply_to = address_list(text)
        if reply_to:
            self.payload["ReplyTo"] = ", ".join(format_address(a, "Reply-To") for a in reply_to)

    def set_subject(self) -> None:
        self.payload["Subject"] = refuse_line_breaks(str(self.message.subject or ""), "Subject")

    def set_bodies(self) -> None:
        message = self.message
        subtype = message.content_subtype
        if subtype not in ("plain", "html"):
            raise UnsupportedMessageError(
                f"Postmark sends text/plain and text/html bodies only, not text/{subtype}.",
                field="content_subtype",
            )
        bodies: dict[str, str] = {}
        if message.body:
            bodies["HtmlBody" if subtype == "html" else "TextBody"] = str(message.body)
        for alternative in getattr(message, "alternatives", None) or []:
            content, mimetype = alternative[0], alternative[1]
            key = _BODY_KEYS.get(mimetype)
            if key is None:
                raise UnsupportedMessageError(
                    f"Postmark cannot send a {mimetype} alternative; it takes one text/plain and "
                    "one text/html body.",
                    field="alternatives",
                )
            if key in bodies:
                raise UnsupportedMessageError(
                    f"Postmark takes one {'HTML' if key == 'HtmlBody' else 'text'} body per "
                    "message; this message has two.",
                    field="alternatives",
                )
            bodies[key] = content.decode() if isinstance(content, bytes) else str(content)
        if not bodies:
            raise UnsupportedMessageError(
                "Postmark needs a text or an HTML body; this message has neither (or a template).",
                field="body",
            )
        self.payload.update(bodies)

    def set_template(self) -> None:
        message = self.message
        if message.subject or message.body or getattr(message, "alternatives", None):
            raise UnsupportedMessageError(
                "A template message takes its subject and bodies from the Postmark template; "
                "leave subject, body and alternatives empty.",
                field="template",
            )
        template_id = getattr(message, "template_id", None)
        if template_id:
            self.payload["TemplateId"] = template_id
        else:
            self.payload["TemplateAlias"] = getattr(message, "template_alias", None)
        self.payload["TemplateModel"] = dict(getattr(message, "template_model", None) or {})
        inline_css = getattr(message, "inline_css", None)
        if inline_css is not None:
            self.payload["InlineCss"] = bool(inline_css)

    def set_tag(self) -> None:
        tag = getattr(self.message, "tag", None) or self.defaults.tag
        if tag:
            tag = refuse_line_breaks(str(tag), "tag")
            if len(tag) > MAX_TAG_LENGTH:
                raise UnsupportedMessageError(
                    f"Postmark tags are at most {MAX_TAG_LENGTH} characters.", field="tag"
                )
            self.payload["Tag"] = tag

    def set_metadata(self) -> None:
        metadata = {**self.defaults.metadata, **(getattr(self.message, "metadata", None) or {})}
        checked = metadata_of(metadata) if metadata else {}
        if self.link_id is not None:
            add_link_id(checked, self.defaults.link_field, self.link_id)
        if checked:
            self.payload["Metadata"] = checked

    def set_tracking(self) -> None:
        track_opens = getattr(self.message, "track_opens", None)
        track_opens = self.defaults.track_opens if track_opens is None else track_opens
        if track_opens is not None:
            self.payload["TrackOpens"] = bool(track_opens)
        track_links = getattr(self.message, "track_links", None) or self.defaults.track_links
        if track_links is not None:
            if track_links not in TRACK_LINKS_VALUES:
                raise UnsupportedMessageError(
                    f"track_links must be one of {', '.join(TRACK_LINKS_VALUES)}, not "
                    f"{track_links!r}.",
                    field="track_links",
                )
            self.payload["TrackLinks"] = track_links

    def set_message_stream(self) -> None:
        stream = getattr(self.message, "message_stream", None) or self.defaults.message_stream
        if stream:
            self.payload["MessageStream"] = refuse_line_breaks(str(stream), "message_stream")

    def set_headers(self) -> None:
        if self.headers:
            self.payload["Headers"] = headers_of(self.headers)

    def set_attachments(self) -> None:
        attachments = [attachment_of(item) for item in self.message.attachments]
        if attachments:
            self.payload["Attachments"] = attachments

    def set_passthrough(self) -> None:
        passthrough = getattr(self.message, "passthrough", None)
        if not passthrough:
            return
        for key in passthrough:
            name = refuse_line_breaks(str(key), "passthrough")
            if name.strip().lower() in _BUILT_FIELDS:
                raise UnsupportedMessageError(
                    f"{name!r} is built by this app from the message; set it there (to, "
                    "subject, extra_headers, tag...), not in passthrough, which is for fields "
                    "this app does not know.",
                    field="passthrough",
                )
        self.payload.update({str(key): value for key, value in passthrough.items()})

    def check_size(self) -> None:
        payload = self.payload
        size = len(payload.get("HtmlBody") or "") + len(payload.get("TextBody") or "")
        for attachment in payload.get("Attachments", ()):
            size += len(attachment["Content"])
        if size > MAX_MESSAGE_BYTES:
            raise UnsupportedMessageError(
                f"Postmark accepts messages of at most 10 MB with attachments; this one is "
                f"{size / 1024 / 1024:.1f} MB once encoded.",
                field="attachments",
            )


def headers_of(headers: Mapping[str, Any]) -> list[dict[str, str]]:
    """Extra headers as Postmark's ``Headers`` list, with no line break in a name or value."""
    return [
        {
            "Name": refuse_line_breaks(str(name), f"header name {str(name)[:40]!r}"),
            "Value": refuse_line_breaks(str(value), f"header {str(name)!r}"),
        }
        for name, value in headers.items()
    ]
