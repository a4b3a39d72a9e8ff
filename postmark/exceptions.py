"""The exception tree. Every error carries ``error_code``, ``http_status`` and ``message``.

PostmarkError
├── UnsupportedMessageError     the message has what Postmark cannot carry (nothing was sent)
├── PostmarkAPIError            Postmark answered with an error
│   ├── UnauthorizedError       401 / ErrorCode 10: bad or missing server token
│   ├── InvalidRequestError     422 and other 4xx: Postmark refused the request
│   │   ├── InactiveRecipientsError  ErrorCode 406, with ``.recipients``
│   │   ├── BulkNotEnabledError      ErrorCode 14: the account's Bulk API is not enabled
│   │   └── NotFoundError            404, or 422 with ErrorCode 407: no such bounce (or thing)
│   ├── RateLimitedError        429
│   ├── ServerError             5xx
│   └── UnexpectedAnswerError   a 2xx that is not the JSON expected (may have been sent)
├── NetworkError                no answer; ``.may_have_been_sent`` tells whether a retry is safe
│   └── PostmarkTimeout
├── BatchError                  some messages of a send failed; ``.failures`` lists them
└── BulkRequestFailed           Postmark's status of a Bulk API request says Failed

``is_safe_to_retry`` is the one rule for "Postmark certainly did not process this request", which
the client, the queue and the results all follow.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from .api.spec import (
    ERROR_BAD_TOKEN,
    ERROR_BOUNCE_NOT_FOUND,
    ERROR_BULK_NOT_ENABLED,
    ERROR_INACTIVE_RECIPIENTS,
    RETRYABLE_STATUSES,
)

if TYPE_CHECKING:
    from django.core.mail import EmailMessage


class PostmarkError(Exception):
    error_code: int | None = None
    http_status: int | None = None

    def __init__(
        self, message: str, *, error_code: int | None = None, http_status: int | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        if error_code is not None:
            self.error_code = error_code
        if http_status is not None:
            self.http_status = http_status

    def __str__(self) -> str:
        parts = [self.message]
        if self.error_code is not None:
            parts.append(f"ErrorCode {self.error_code}")
        if self.http_status is not None:
            parts.append(f"HTTP {self.http_status}")
        return parts[0] if len(parts) == 1 else f"{parts[0]} ({', '.join(parts[1:])})"


class UnsupportedMessageError(PostmarkError, ValueError):
    """The message cannot be sent through Postmark as it is; nothing was sent.

    ``field`` names the part of the message at fault ("From", "Subject", "Reply-To"...) when
    there is one.
    """

    def __init__(self, message: str, *, field: str | None = None, **kwargs: Any) -> None:
        super().__init__(f"{field}: {message}" if field else message, **kwargs)
        self.field = field


class PostmarkAPIError(PostmarkError):
    """Postmark answered, and refused."""


class UnauthorizedError(PostmarkAPIError):
    http_status = 401


class InvalidRequestError(PostmarkAPIError):
    http_status = 422


class InactiveRecipientsError(InvalidRequestError):
    error_code = 406

    def __init__(self, message: str, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.recipients: list[str] = parse_inactive_recipients(message)


class BulkNotEnabledError(InvalidRequestError):
    """Postmark refuses the Bulk API until its support enables it for the account."""

    error_code = ERROR_BULK_NOT_ENABLED

    def __init__(self, message: str, **kwargs: Any) -> None:
        super().__init__(
            f"{message} The Bulk API is enabled per account by Postmark: contact Postmark's "
            "support to have it switched on, or send these messages without bulk.",
            **kwargs,
        )


class NotFoundError(InvalidRequestError):
    """What was asked for does not exist: Postmark answers 422 with an ErrorCode that says so
    (407 for a bounce), and other servers (a proxy, an older sandbox) 404."""


class RateLimitedError(PostmarkAPIError):
    http_status = 429


class ServerError(PostmarkAPIError):
    http_status = 500


class UnexpectedAnswerError(PostmarkAPIError):
    """Postmark said yes (2xx) in a form we cannot read: the messages may well have gone."""

    may_have_been_sent = True


class NetworkError(PostmarkError):
    """No usable answer came back.

    ``may_have_been_sent`` is False only when the request certainly never reached Postmark
    (the connection was refused or could not be opened).
    """

    def __init__(self, message: str, *, may_have_been_sent: bool = True, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.may_have_been_sent = may_have_been_sent


class PostmarkTimeout(NetworkError):
    pass


class BatchError(PostmarkError):
    """Some messages of a send failed; the others were accepted and will not be sent again."""

    def __init__(self, failures: list[tuple[EmailMessage, PostmarkError]], sent: int) -> None:
        self.failures = failures
        self.sent = sent
        lines = [
            f"  {', '.join(message.recipients()) or '(no recipients)'}: {error}"
            for message, error in failures
        ]
        super().__init__(f"{len(failures)} message(s) failed, {sent} sent:\n" + "\n".join(lines))


class BulkRequestFailed(PostmarkError):
    """Postmark says a Bulk API request failed (``GET /email/bulk/{id}``): its recipients'
    messages were not sent."""


_INACTIVE = re.compile(r"(?:inactive addresses|addresses):\s*(.+?)(?:\.\s|\.$|$)", re.I)
_ADDRESS = re.compile(r"[^\s,;:<>]+@[^\s,;:<>]+[^\s,;:<>.]")


def parse_inactive_recipients(text: str) -> list[str]:
    """The addresses Postmark names in "Found inactive addresses: a@x, b@y." style messages."""
    match = _INACTIVE.search(text or "")
    return _ADDRESS.findall(match.group(1)) if match else []


_BY_ERROR_CODE: dict[int, type[PostmarkAPIError]] = {
    ERROR_BAD_TOKEN: UnauthorizedError,
    ERROR_INACTIVE_RECIPIENTS: InactiveRecipientsError,
    ERROR_BULK_NOT_ENABLED: BulkNotEnabledError,
    ERROR_BOUNCE_NOT_FOUND: NotFoundError,
}
_BY_STATUS: dict[int, type[PostmarkAPIError]] = {
    401: UnauthorizedError,
    404: NotFoundError,
    429: RateLimitedError,
}


def api_error(http_status: int, error_code: int | None, message: str) -> PostmarkAPIError:
    """The exception for an error answer (or an error item inside a batch answer)."""
    cls = (_BY_ERROR_CODE.get(error_code) if error_code is not None else None) or _BY_STATUS.get(
        http_status
    )
    if cls is None:
        cls = ServerError if http_status >= 500 else InvalidRequestError
    return cls(message, error_code=error_code, http_status=http_status)


#: The largest ErrorCode kept: the value must fit a 32-bit integer column wherever it is stored.
_MAX_ERROR_CODE = 2**31 - 1


def read_error_code(value: object) -> int | None:
    """An ``ErrorCode`` from Postmark's answer as an int, or None when it is not one.

    A whole number from 0 to 2**31 - 1 (or such a number written in ASCII digits); anything
    else (text, a float, a bool, a number too large for an integer column) is unreadable.
    """
    if isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= _MAX_ERROR_CODE:
        return value
    return None


def is_safe_to_retry(error: PostmarkError) -> bool:
    """Whether Postmark certainly did not process the request, so that sending it again cannot
    send anything twice: the connection was never opened, or Postmark answered 429 or 503."""
    if isinstance(error, NetworkError):
        return not error.may_have_been_sent
    return isinstance(error, PostmarkAPIError) and error.http_status in RETRYABLE_STATUSES


def may_have_been_sent(error: PostmarkError) -> bool:
    """Whether Postmark may have accepted what the failed request carried (its result is then
    "unknown", never "failed"): no readable answer, an unexpected one, or a 5xx other than the
    ones ``is_safe_to_retry`` accepts."""
    if is_safe_to_retry(error):
        return False
    if isinstance(error, NetworkError | UnexpectedAnswerError):
        return True
    return error.http_status is not None and error.http_status >= 500
