"""Django email backends that send through Postmark's API."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.core.mail import EmailMessage
from django.core.mail.backends.base import BaseEmailBackend

from . import signals
from .client import Client
from .conf import settings
from .exceptions import (
    BatchError,
    PostmarkError,
    UnexpectedAnswerError,
    UnsupportedMessageError,
)
from .message import (
    FAILED,
    SENT,
    SUPPRESSED,
    Defaults,
    PostmarkResult,
    is_template,
    to_payload,
)

logger = logging.getLogger("postmark")


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
        # Django 6.1 deprecates fail_silently on BaseEmailBackend (and refuses it as a MAILERS
        # option it does not know): a backend that supports it keeps its own attribute.
        super().__init__(**kwargs)
        self.fail_silently = fail_silently
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
        # The mail has gone (or not) by now: a receiver that fails (say, the log's database) must
        # not turn that into an exception the caller would answer by sending again, nor stop the
        # later batches. Its error is logged instead.
        responses = signals.post_send.send_robust(
            sender=type(self),
            messages=batch.messages,
            results=[message.postmark for message in batch.messages],  # type: ignore[attr-defined]
            exception=error,
            backend=self,
        )
        for receiver, response in responses:
            if isinstance(response, Exception):
                logger.error(
                    "post_send receiver %r failed after %d message(s) were sent",
                    receiver,
                    len(batch.messages),
                    exc_info=response,
                )
        return error

    def _call(self, template: bool, payloads: list[dict[str, Any]]) -> list[dict[str, Any]]:
        assert self.client is not None
        if len(payloads) == 1:
            send_one = self.client.send_with_template if template else self.client.send
            answer = send_one(payloads[0])
            if not isinstance(answer, dict):
                raise UnexpectedAnswerError(
                    "Postmark answered one message with no result object; whether it went is "
                    "unknown."
                )
            return [answer]
        send_many = self.client.send_batch_with_templates if template else self.client.send_batch
        answers = send_many(payloads)
        if not isinstance(answers, list) or len(answers) != len(payloads):
            count = len(answers) if isinstance(answers, list) else "no list of"
            raise UnexpectedAnswerError(
                f"Postmark answered a batch of {len(payloads)} with {count} results; "
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


@dataclass
class QueuedResult(PostmarkResult):
    """The result a queued message carries in the caller: status "queued", the batch that holds
    it and the id of the task that will send it (set once the enqueue happens, which is after
    the caller's transaction commits)."""

    batch_id: str = ""
    task_id: str | None = None


class QueuedPostmarkBackend(PostmarkBackend):
    """Builds the payloads in the caller, queues them as tasks of up to 500, and returns.

    ``send_messages`` runs ``pre_send`` and the payload checks now (a message Postmark would
    refuse raises UnsupportedMessageError at once, as with ``PostmarkBackend``), stores one
    ``postmark.models.QueuedBatch`` row per API call, and enqueues the task
    ``postmark.tasks.send_queued_batch`` for each on the task backend
    POSTMARK_QUEUE_TASK_BACKEND. A worker then sends the batch exactly as ``PostmarkBackend``
    would (same client, results, ``post_send``). Each message gets a ``QueuedResult`` now; its
    final result reaches ``post_send`` receivers and the batch row. Returns how many were queued.
    """

    #: Set by the task for each attempt: whether a failure that proves Postmark did not take the
    #: batch (connection refused, 429, 503) should be tried again later instead of reported.
    retry_allowed = False

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        import uuid

        from django.db import transaction

        from .message import QUEUED
        from .models import QueuedBatch
        from .tasks import message_entry

        if not email_messages:
            return 0
        rows: list[tuple[QueuedBatch, list[EmailMessage]]] = []
        for batch in self.build_batches(email_messages):
            row = QueuedBatch(id=uuid.uuid4(), state=QueuedBatch.State.PENDING)
            row.template = batch.template
            queued: list[EmailMessage] = []
            for message, payload in zip(batch.messages, batch.payloads, strict=True):
                if payload is None:  # suppressed or refused: its result is already final
                    row.messages.append(message_entry(message, None, message.postmark))  # type: ignore[attr-defined]
                    continue
                result = QueuedResult(
                    QUEUED,
                    recipients=list(message.recipients()),
                    message="Queued for sending.",
                    batch_id=str(row.id),
                )
                message.postmark = result  # type: ignore[attr-defined]
                row.messages.append(message_entry(message, payload, None))
                queued.append(message)
            rows.append((row, queued))
        for row, _ in rows:
            # One INSERT per batch: PostgreSQL's bulk_create sends rows as arrays, and quoting a
            # batch's JSON inside an array literal costs more than the extra round trip.
            row.save(force_insert=True)
        # After commit: a worker must never pick up a task whose row it cannot see yet, and a
        # rolled-back request must not send mail. (In autocommit this runs right away.)
        transaction.on_commit(lambda: self._enqueue(rows))
        return sum(len(queued) for _, queued in rows)

    def _enqueue(self, rows: list[tuple[Any, list[EmailMessage]]]) -> None:
        from .models import QueuedBatch
        from .tasks import enqueue

        failures: list[tuple[EmailMessage, PostmarkError]] = []
        for row, queued in rows:
            results: list[QueuedResult] = [m.postmark for m in queued]  # type: ignore[attr-defined]
            try:
                task_id = enqueue(str(row.id))
            except Exception as exc:
                # Nothing will send this batch: say so on the row and on each message.
                error = PostmarkError(f"Could not enqueue the batch: {exc!r}")
                QueuedBatch.objects.filter(pk=row.id).update(
                    state=QueuedBatch.State.FAILED, error=str(error)
                )
                for result in results:
                    result.status, result.message, result.error = FAILED, str(error), error
                failures.extend((message, error) for message in queued)
                continue
            for result in results:
                result.task_id = task_id
        if failures and not self.fail_silently:
            raise BatchError(failures, 0)

    def _call(self, template: bool, payloads: list[dict[str, Any]]) -> list[dict[str, Any]]:
        from .tasks import RetryLater, is_safe_to_retry

        try:
            return super()._call(template, payloads)
        except PostmarkError as error:
            if self.retry_allowed and is_safe_to_retry(error):
                raise RetryLater(error) from error
            raise
