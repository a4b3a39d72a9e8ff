"""Django email backends that send through Postmark's API.

``PostmarkBackend`` sends at once; ``QueuedPostmarkBackend`` is the caller's side of queued
sending (checks, batch rows, tasks). Both run the send path in ``postmark.sending``; the
worker's side lives in ``postmark.queue``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.core.mail import EmailMessage
from django.core.mail.backends.base import BaseEmailBackend
from django.db import transaction

from .batches import build_batches
from .client import Client
from .conf import settings
from .exceptions import BatchError, PostmarkError, UnsupportedMessageError
from .installation import migrated
from .merge import settle
from .message import server_label
from .models import QueuedBatch
from .queue.envelope import message_entry
from .results import PostmarkResult, Status
from .sending import Batch, raise_for_failures, send_batches
from .tasks import enqueue

__all__ = ["PostmarkBackend", "QueuedPostmarkBackend", "QueuedResult"]


class PostmarkBackend(BaseEmailBackend):
    """Sends each message through Postmark, up to 500 per API call.

    Every message gets a ``.postmark`` result (``postmark.results.PostmarkResult``). Arguments
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

    def send_messages(self, email_messages: Iterable[EmailMessage]) -> int:
        """Send the messages; return how many Postmark accepted (the queued backend: how many it
        queued). Takes any iterable, as Django's backends do, and reads it once."""
        # Read here, once, for every backend of the app: an iterator or a generator is spent by
        # its first reader, and a queryset-like iterable would be read again by each.
        messages = list(email_messages)
        if not messages:
            return 0  # nothing opened, no signal, no request: as Django's backends
        return self._send_list(messages)

    # Without migrate, pre_send's suppression look-up would fail with "no such table": say so.
    @migrated()
    def _send_list(self, email_messages: list[EmailMessage]) -> int:
        """``send_messages`` for a non-empty list: a subclass overrides this one."""
        opened_here = self.open()
        assert self.client is not None
        try:
            batches = build_batches(self, email_messages, self.fail_silently)
            send_batches(self, self.client, batches, self.fail_silently)
        finally:
            if opened_here:
                self.close()
        results = [message.postmark for message in email_messages]  # type: ignore[attr-defined]
        # Accepted: "sent", "delayed", and a Bulk API request's "queued".
        sent = sum(result.accepted for result in results)
        if not self.fail_silently:
            raise_for_failures(email_messages, sent)
        return sent


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
    would (``postmark.queue.worker``: same client, results, ``post_send``, with this class as
    the sender). Each message gets a ``QueuedResult`` now; its final result reaches
    ``post_send`` receivers and the batch row. Returns how many were queued.
    """

    @migrated()
    def _send_list(self, email_messages: list[EmailMessage]) -> int:
        rows: list[tuple[QueuedBatch, list[EmailMessage]]] = []
        for batch in build_batches(self, email_messages, self.fail_silently):
            rows.append(self._row(batch))
        # A merge_data message's own result sums up its recipients' ("queued").
        settle(message for _, queued in rows for message in queued)
        for row, _ in rows:
            # One INSERT per batch: PostgreSQL's bulk_create sends rows as arrays, and quoting a
            # batch's JSON inside an array literal costs more than the extra round trip.
            row.save(force_insert=True)
        # After commit: a worker must never pick up a task whose row it cannot see yet, and a
        # rolled-back request must not send mail. (In autocommit this runs right away.)
        transaction.on_commit(lambda: self._enqueue(rows))
        return sum(len(queued) for _, queued in rows)

    @staticmethod
    def _row(batch: Batch) -> tuple[QueuedBatch, list[EmailMessage]]:
        # The row keeps the server's label, not its token (a secret): the worker finds the
        # token by its label among POSTMARK_SERVER_TOKENS, so only a listed token can go.
        if batch.server_token and batch.server_token not in settings.POSTMARK_SERVER_TOKENS:
            raise UnsupportedMessageError(
                "QueuedPostmarkBackend sends a message with a server_token only if that token "
                "is listed in POSTMARK_SERVER_TOKENS (its batch row keeps the server's label, "
                "never the token, and the worker finds the token there by that label). List "
                "the token in POSTMARK_SERVER_TOKENS, or send the message with PostmarkBackend.",
                field="server_token",
            )
        server = server_label(batch.server_token)
        row = QueuedBatch(id=uuid.uuid4(), state=QueuedBatch.State.PENDING)
        row.template = batch.template
        queued: list[EmailMessage] = []
        for message, payload in zip(batch.messages, batch.payloads, strict=True):
            if payload is None:  # suppressed or refused: its result is already final
                row.messages.append(
                    message_entry(message, None, message.postmark, bulk=batch.bulk, server=server)  # type: ignore[attr-defined]
                )
                continue
            message.postmark = QueuedResult(  # type: ignore[attr-defined]
                Status.QUEUED,
                recipients=list(message.recipients()),
                message="Queued for sending.",
                batch_id=str(row.id),
            )
            row.messages.append(
                message_entry(message, payload, None, bulk=batch.bulk, server=server)
            )
            queued.append(message)
        return row, queued

    def _enqueue(self, rows: list[tuple[QueuedBatch, list[EmailMessage]]]) -> None:
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
                    result.status, result.message, result.error = Status.FAILED, str(error), error
                failures.extend((message, error) for message in queued)
                continue
            for result in results:
                result.task_id = task_id
        if failures and not self.fail_silently:
            raise BatchError(failures, 0)
