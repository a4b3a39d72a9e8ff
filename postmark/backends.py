"""Django email backends that send through Postmark's API."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.core.mail import EmailMessage
from django.core.mail.backends.base import BaseEmailBackend

from . import signals
from .api import Client
from .conf import settings
from .exceptions import BatchError, PostmarkError, UnsupportedMessageError
from .message import (
    FAILED,
    SENT,
    SUPPRESSED,
    Defaults,
    PostmarkResult,
    is_template,
    to_payload,
)


@dataclass
class Batch:
    """The messages of one API call. A message whose payload is None is not sent: its result
    (suppressed, or refused before sending) is already on it."""

    template: bool
    messages: list[EmailMessage]
    payloads: list[dict[str, Any] | None]


class PostmarkBackend(BaseEmailBackend):
    """Sends each message through Postmark, up to 500 per API call.

    Every message gets a ``.postmark`` result (``postmark.message.PostmarkResult``). Arguments
    fall back to settings: ``api_key`` to POSTMARK_API_KEY, ``api_url`` to POSTMARK_API_URL,
    ``test_mode`` to POSTMARK_TEST_MODE, ``timeout`` to POSTMARK_TIMEOUT.
    """

    def __init__(
        self,
        fail_silently: bool = False,
        *,
        api_key: str | None = None,
        api_url: str | None = None,
        test_mode: bool | None = None,
        timeout: float | tuple[float, float] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(fail_silently=fail_silently, **kwargs)
        self._client_options = {
            "token": api_key,
            "base_url": api_url,
            "test_mode": test_mode,
            "timeout": timeout,
        }
        self.client: Client | None = None

    def open(self) -> bool:
        """Create the API client (and its keep-alive session); True if this call created it.

        A missing token raises ImproperlyConfigured even with fail_silently: that is a
        configuration mistake to fix, not a delivery failure to tolerate.
        """
        if self.client is not None:
            return False
        self.client = Client.from_settings(**self._client_options)
        return True

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        """Send the messages; return how many Postmark accepted."""
        if not email_messages:
            return 0
        opened_here = self.open()
        try:
            batches = self.build_batches(email_messages)
            for position, batch in enumerate(batches):
                error = self.post_batch(batch)
                if error is not None and not self.fail_silently:
                    _mark_unsent(batches[position + 1 :], error)
                    break
        finally:
            if opened_here:
                self.close()
        results = [message.postmark for message in email_messages]  # type: ignore[attr-defined]
        sent = sum(result.status == SENT for result in results)
        if not self.fail_silently:
            _raise_for_failures(list(email_messages), sent)
        return sent

    def build_batches(self, email_messages: Sequence[EmailMessage]) -> list[Batch]:
        """Split the messages into API calls, send ``pre_send`` for each, build the payloads.

        Everything Postmark would refuse for the message itself raises UnsupportedMessageError
        here, before any request (with fail_silently, that message gets a failed result).
        """
        defaults = Defaults.from_settings()
        size = settings.POSTMARK_BATCH_SIZE
        groups: dict[bool, list[EmailMessage]] = {False: [], True: []}
        for message in email_messages:
            if message.recipients():
                groups[is_template(message)].append(message)
            else:
                # Django's own backends skip a message without recipients; so do we, visibly.
                message.postmark = PostmarkResult(  # type: ignore[attr-defined]
                    FAILED, message="The message has no recipients; nothing was sent."
                )
        batches = [
            Batch(template, group[start : start + size], [])
            for template, group in groups.items()
            for start in range(0, len(group), size)
        ]
        for batch in batches:
            signals.pre_send.send(sender=type(self), messages=batch.messages, backend=self)
            batch.payloads = [self._payload(message, defaults) for message in batch.messages]
        return batches

    def _payload(self, message: EmailMessage, defaults: Defaults) -> dict[str, Any] | None:
        if not message.recipients():
            message.postmark = PostmarkResult(  # type: ignore[attr-defined]
                SUPPRESSED, message="Every recipient was suppressed; nothing was sent."
            )
            return None
        try:
            return to_payload(message, defaults)
        except UnsupportedMessageError as error:
            if not self.fail_silently:
                raise
            message.postmark = PostmarkResult.from_error(error, message)  # type: ignore[attr-defined]
            return None

    def post_batch(self, batch: Batch) -> PostmarkError | None:
        """Make the API call for one batch, put a result on each message, send ``post_send``.

        Returns the error that failed the whole call, if one did.
        """
        assert self.client is not None
        sending = [(m, p) for m, p in zip(batch.messages, batch.payloads, strict=True) if p]
        error: PostmarkError | None = None
        if sending:
            payloads = [payload for _, payload in sending]
            try:
                answers = self._call(batch.template, payloads)
            except PostmarkError as exc:
                error = exc
                for message, _ in sending:
                    message.postmark = PostmarkResult.from_error(exc, message)  # type: ignore[attr-defined]
            else:
                for (message, _), answer in zip(sending, answers, strict=True):
                    message.postmark = PostmarkResult.from_api(answer, message)  # type: ignore[attr-defined]
        signals.post_send.send(
            sender=type(self),
            messages=batch.messages,
            results=[message.postmark for message in batch.messages],  # type: ignore[attr-defined]
            exception=error,
            backend=self,
        )
        return error

    def _call(self, template: bool, payloads: list[dict[str, Any]]) -> list[dict[str, Any]]:
        assert self.client is not None
        if len(payloads) == 1:
            send_one = self.client.send_with_template if template else self.client.send
            return [send_one(payloads[0])]
        send_many = self.client.send_batch_with_templates if template else self.client.send_batch
        answers = send_many(payloads)
        if len(answers) != len(payloads):
            raise PostmarkError(
                f"Postmark answered a batch of {len(payloads)} with {len(answers)} results; "
                "which messages went is unknown."
            )
        return answers


def _mark_unsent(batches: list[Batch], error: PostmarkError) -> None:
    """Results for the batches left unsent after a request failed (so nothing goes twice)."""
    for batch in batches:
        for message, payload in zip(batch.messages, batch.payloads, strict=True):
            if payload is not None:
                message.postmark = PostmarkResult(  # type: ignore[attr-defined]
                    FAILED,
                    recipients=list(message.recipients()),
                    error_code=error.error_code,
                    message=f"Not sent: the request for an earlier batch failed ({error}).",
                    error=error,
                )


def _raise_for_failures(messages: list[EmailMessage], sent: int) -> None:
    failures = [
        (message, message.postmark.error)  # type: ignore[attr-defined]
        for message in messages
        if message.postmark.status not in (SENT, SUPPRESSED)  # type: ignore[attr-defined]
        and message.postmark.error is not None  # type: ignore[attr-defined]
    ]
    if not failures:
        return
    errors = {id(error) for _, error in failures}
    if sent == 0 and len(errors) == 1 and len(failures) == len(messages):
        raise failures[0][1]
    raise BatchError(failures, sent)
