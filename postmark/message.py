"""Postmark's options on Django messages: the message classes, the option names, their defaults.

Any Django ``EmailMessage`` may carry Postmark options as attributes (``message.tag = "welcome"``);
``PostmarkEmailMessage`` and ``PostmarkEmailMultiAlternatives`` take them as keyword arguments.
The payload is built in ``postmark.sending.payload``, the results live in ``postmark.results``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.core.mail import EmailMessage, EmailMultiAlternatives

from .conf import DEFAULT_LINK_FIELD, conceal, settings

# README documents ``postmark.message.PostmarkResult``; it lives in ``postmark.results``.
from .results import PostmarkResult

__all__ = [
    "OPTION_NAMES",
    "Defaults",
    "PostmarkEmailMessage",
    "PostmarkEmailMultiAlternatives",
    "PostmarkResult",
    "call_key",
    "is_bulk",
    "is_template",
    "server_label",
]

#: Every Postmark option a Django message may carry, as attribute names.
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
    # One template message, one message per To recipient, each with its own model:
    "merge_data",
    # The Bulk API: one call for every recipient (each with their merge_data, metadata, headers).
    "bulk",
    "merge_metadata",
    "merge_headers",
    # Payload fields this app does not know yet, merged last.
    "passthrough",
    # Another Postmark server than POSTMARK_API_KEY's.
    "server_token",
)


class PostmarkMessageMixin:
    # The keyword arguments are OPTION_NAMES, spelt out for type checkers and editors.
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
        merge_data: Mapping[str, Mapping[str, Any]] | None = None,
        bulk: bool | None = None,
        merge_metadata: Mapping[str, Mapping[str, Any]] | None = None,
        merge_headers: Mapping[str, Mapping[str, str]] | None = None,
        passthrough: Mapping[str, Any] | None = None,
        server_token: str | None = None,
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
        self.merge_data = merge_data
        self.bulk = bulk
        self.merge_metadata = merge_metadata
        self.merge_headers = merge_headers
        self.passthrough = passthrough
        self.server_token = server_token


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
    bulk_streams: frozenset[str] = frozenset()
    #: The Metadata field of each message's generated id (POSTMARK_LINK_FIELD).
    link_field: str = DEFAULT_LINK_FIELD

    @classmethod
    def from_settings(cls) -> Defaults:
        return cls(
            tag=settings.POSTMARK_TAG,
            metadata=settings.POSTMARK_METADATA or {},
            track_opens=settings.POSTMARK_TRACK_OPENS,
            track_links=settings.POSTMARK_TRACK_LINKS,
            message_stream=settings.POSTMARK_MESSAGE_STREAM,
            bulk_streams=frozenset(settings.POSTMARK_BULK_STREAMS),
            link_field=settings.POSTMARK_LINK_FIELD,
        )


def is_template(message: EmailMessage) -> bool:
    return bool(getattr(message, "template_id", None) or getattr(message, "template_alias", None))


def is_bulk(message: EmailMessage, defaults: Defaults) -> bool:
    """Whether the message goes through the Bulk API: ``message.bulk = True``, or its stream is
    one of POSTMARK_BULK_STREAMS (unless ``message.bulk = False``)."""
    bulk = getattr(message, "bulk", None)
    if bulk is not None:
        return bool(bulk)
    if not defaults.bulk_streams:
        return False
    stream = getattr(message, "message_stream", None) or defaults.message_stream
    return stream in defaults.bulk_streams


#: What puts messages in the same API call: template or not, bulk, and the server's token.
CallKey = tuple[bool, bool, str | None]


def call_key(message: EmailMessage, defaults: Defaults) -> CallKey:
    """The API call the message's options put it in: template or not, bulk, and its server."""
    # A Secret: the batch's repr (in an error report's frames) shows stars.
    token = conceal(getattr(message, "server_token", None) or None)
    return is_template(message), is_bulk(message, defaults), token


def server_label(token: str | None) -> str:
    """What the Message log records of a message's server: "" for POSTMARK_API_KEY's, else the
    first 12 hex digits of the token's SHA-256 (never the token, which sends as that server)."""
    if not token:
        return ""
    return hashlib.sha256(token.encode()).hexdigest()[:12]
