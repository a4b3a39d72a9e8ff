"""What became of each message: ``PostmarkResult`` and the one status enum.

Whatever Postmark answers (or fails to), every message gets a result: an answer that cannot be
read gives "unknown", because Postmark may have accepted the message all the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.core.mail import EmailMessage
from django.db.models import TextChoices

from .api.timestamps import parse_timestamp
from .exceptions import (
    PostmarkError,
    UnexpectedAnswerError,
    api_error,
    may_have_been_sent,
    parse_inactive_recipients,
    read_error_code,
)
from .sending.addresses import split_addresses


class Status(TextChoices):
    """A message's status after a send. ``postmark.models.Message.Status`` extends these values
    with the lifecycle that webhooks report (delivered, opened...)."""

    QUEUED = "queued"
    SENT = "sent"
    #: Accepted, but Postmark answered "delivery may be delayed" (with no ErrorCode at all).
    DELAYED = "delayed", "delayed (accepted, delivery may be delayed)"
    FAILED = "failed"
    SUPPRESSED = "suppressed"
    #: Postmark may or may not have accepted it (timeout, 5xx, dropped connection, odd answer).
    UNKNOWN = "unknown", "unknown (Postmark may have accepted it)"


# Enum members looked up once: an attribute of an enum class costs ten times a global's, for
# every message of a batch.
_SENT, _FAILED, _DELAYED = Status.SENT, Status.FAILED, Status.DELAYED
#: What Postmark accepted: sent, or sent with a warning that delivery may be delayed.
_ACCEPTED = frozenset((Status.SENT, Status.DELAYED))


# Slots: a send keeps a result for every message for as long as the caller keeps the messages;
# without an attribute dict each is some 50 bytes smaller, which pays for its ``link_id``.
@dataclass(slots=True)
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
    #: The Bulk API request that carries the message (its status is then "queued").
    bulk_request_id: str | None = None
    #: The id the app generated for the message and sent in its Metadata (POSTMARK_LINK_FIELD),
    #: kept as its log row's ``link_id``: Postmark's search finds the message by it, whatever
    #: became of the answer. None for a message not sent, and for a Bulk API message, whose
    #: recipients have an id each.
    link_id: str | None = None
    #: While ``post_send``'s receivers run, for a message whose outcome is unknown: the request
    #: that carried it, which the log keeps so that settling can send it again if Postmark never
    #: had it. None otherwise (the caller's memory does not keep the request).
    request: dict[str, Any] | None = field(default=None, repr=False, compare=False)

    @property
    def accepted(self) -> bool:
        """Postmark took the message: "sent", "delayed", or "queued" in a Bulk API request."""
        return self.status in _ACCEPTED or bool(self.bulk_request_id)

    @classmethod
    def from_api(cls, answer: object, message: EmailMessage) -> PostmarkResult:
        """A result from one item of Postmark's answer (ErrorCode may be missing: accepted)."""
        # dict, not Mapping: decoded JSON is a dict, and an ABC check costs per message.
        if not isinstance(answer, dict):
            return cls.unreadable(message, f"its result is not an object: {answer!r:.100}")
        raw_code = answer.get("ErrorCode")
        # The common answer, ErrorCode 0, without a call; anything else goes through the rule.
        if raw_code == 0 and type(raw_code) is int:
            code: int | None = 0
        elif raw_code is None:
            code = None  # accepted; "delayed" if its text says so (below)
        else:
            code = read_error_code(raw_code)
            if code is None:
                return cls.unreadable(message, f"its ErrorCode is not a number: {raw_code!r:.100}")
        text = answer.get("Message")
        text = text if type(text) is str else _text(text)
        to = answer.get("To")
        recipients = split_addresses(to) if to and isinstance(to, str) else message.recipients()
        if code:
            return cls(
                _FAILED,
                recipients=recipients,
                error_code=code,
                message=text,
                error=api_error(422, code, text),
            )
        status = _SENT
        # "Message accepted, but delivery may be delayed." comes with no ErrorCode key at all:
        # accepted, and told apart from "sent".
        if code is None and "delay" in text.lower():
            status = _DELAYED
        message_id = answer.get("MessageID")
        return cls(
            status,
            message_id=message_id if isinstance(message_id, str) else None,
            submitted_at=parse_timestamp(answer.get("SubmittedAt")),
            recipients=recipients,
            error_code=0,
            message=text,
            inactive_recipients=parse_inactive_recipients(text),
        )

    @classmethod
    def from_bulk(cls, answer: object, message: EmailMessage) -> PostmarkResult:
        """The result of a Bulk API request: "queued" with the request's ID (Postmark sends the
        recipients' messages later, and names no MessageID for any of them)."""
        bulk_id = answer.get("ID") if isinstance(answer, dict) else None
        if not isinstance(bulk_id, str) or not bulk_id:
            return cls.unreadable(message, f"it names no bulk request ID: {answer!r:.100}")
        assert isinstance(answer, dict)
        return cls(
            Status.QUEUED,
            submitted_at=parse_timestamp(answer.get("SubmittedAt")),
            recipients=list(message.recipients()),
            error_code=0,
            message=f"Queued by Postmark's Bulk API ({_text(answer.get('Status')) or 'Accepted'}).",
            bulk_request_id=bulk_id,
        )

    @classmethod
    def from_error(cls, error: PostmarkError, message: EmailMessage) -> PostmarkResult:
        return cls(
            Status.UNKNOWN if may_have_been_sent(error) else Status.FAILED,
            recipients=list(message.recipients()),
            error_code=error.error_code,
            message=error.message,
            error=error,
        )

    @classmethod
    def unreadable(cls, message: EmailMessage, why: str) -> PostmarkResult:
        """Postmark answered for this message in a form that cannot be read: it may have gone."""
        error = UnexpectedAnswerError(f"Postmark's answer cannot be read ({why}); it may be sent.")
        return cls.from_error(error, message)


def results_of(answers: object, messages: Sequence[EmailMessage]) -> list[PostmarkResult]:
    """One result per message from a batch answer, whatever shape the answer has.

    Results pair with messages by position, so an answer of another length than the request
    says nothing reliable about any message: all of them are then unknown.
    """
    if not isinstance(answers, list) or len(answers) != len(messages):
        count = len(answers) if isinstance(answers, list) else "no list of"
        error = UnexpectedAnswerError(
            f"Postmark answered a batch of {len(messages)} with {count} results; which messages "
            "went is unknown."
        )
        return [PostmarkResult.from_error(error, message) for message in messages]
    return [
        PostmarkResult.from_api(answer, message)
        for answer, message in zip(answers, messages, strict=True)
    ]


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)
