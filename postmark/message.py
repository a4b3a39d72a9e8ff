"""Postmark's options on Django messages: the message classes, the option names, their defaults.

Any Django ``EmailMessage`` may carry Postmark options as attributes (``message.tag = "welcome"``);
``PostmarkEmailMessage`` and ``PostmarkEmailMultiAlternatives`` take them as keyword arguments.
The payload is built in ``postmark.payload``, the results live in ``postmark.results``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.core.mail import EmailMessage, EmailMultiAlternatives

# Re-exported for code written against the old layout (postmark.message held all of these).
from .addresses import bare_address, format_address
from .conf import settings
from .facts import TRACK_LINKS_VALUES
from .results import PostmarkResult, Status

__all__ = [
    "FAILED",
    "OPTION_NAMES",
    "QUEUED",
    "SENT",
    "SUPPRESSED",
    "TRACK_LINKS_VALUES",
    "UNKNOWN",
    "Defaults",
    "PostmarkEmailMessage",
    "PostmarkEmailMultiAlternatives",
    "PostmarkResult",
    "bare_address",
    "format_address",
    "is_template",
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
)

SENT = Status.SENT
FAILED = Status.FAILED
SUPPRESSED = Status.SUPPRESSED
UNKNOWN = Status.UNKNOWN
QUEUED = Status.QUEUED


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
        return cls(
            tag=settings.POSTMARK_TAG,
            metadata=settings.POSTMARK_METADATA or {},
            track_opens=settings.POSTMARK_TRACK_OPENS,
            track_links=settings.POSTMARK_TRACK_LINKS,
            message_stream=settings.POSTMARK_MESSAGE_STREAM,
        )


def is_template(message: EmailMessage) -> bool:
    return bool(getattr(message, "template_id", None) or getattr(message, "template_alias", None))
