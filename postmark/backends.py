"""Django email backends that send through Postmark's API.

``PostmarkBackend`` sends at once; ``QueuedPostmarkBackend`` is the caller's side of queued
sending (checks, batch rows, tasks). Both run the send path in ``postmark.sending``; the
worker's side lives in ``postmark.queue``.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from django.core.mail import EmailMessage
from django.core.mail.backends.base import BaseEmailBackend
from django.db import transaction

from .client import Client
from .conf import settings
from .exceptions import UnsupportedMessageError
from .installation.package import migrated
from .message import server_label
from .models import QueuedBatch
from .queue.envelope import message_entry
from .queue.queueing import enqueue, require_queue
from .results import PostmarkResult, Status
from .sending.batches import build_batches
from .sending.message_log import log_queued
from .sending.recipients import result_of, set_result, settle, tally
from .sending.send_loop import Batch, send_batches

__all__ = ["PostmarkBackend", "QueuedPostmarkBackend", "QueuedResult"]

logger = logging.getLogger("postmark.tasks")


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
        return tally(email_messages, self.fail_silently)


@dataclass
class QueuedResult(PostmarkResult):
    """The result a queued message carries in the caller: status "queued", the batch that holds
    it and the id of the task that will send it (set once the enqueue happens, which is after
    the caller's transaction commits)."""

    batch_id: str = ""
    task_id: str | None = None


@dataclass
class _Queued:
    """One batch row being queued: the row, the messages it will send, and every message it
    holds with the id of its log row (None: a Bulk API message, whose rows are its recipients')."""

    row: QueuedBatch
    queued: list[EmailMessage] = field(default_factory=list)
    #: The ``QueuedResult`` of each message in ``queued``, which the enqueue completes.
    queued_results: list[QueuedResult] = field(default_factory=list)
    logged: list[tuple[EmailMessage, str | None]] = field(default_factory=list)


class QueuedPostmarkBackend(PostmarkBackend):
    """Builds the payloads in the caller, queues them as tasks of up to 500, and returns.

    ``send_messages`` runs ``pre_send`` and the payload checks now (a message Postmark would
    refuse raises UnsupportedMessageError at once, as with ``PostmarkBackend``), stores one
    ``postmark.models.QueuedBatch`` row per API call and, in the same transaction, each
    message's ``Message`` log row (status "queued"; with POSTMARK_STORE_MESSAGES), and enqueues
    the task ``postmark.tasks.send_queued_batch`` for each on the task backend
    POSTMARK_QUEUE_TASK_BACKEND once the caller's transaction commits. A worker then sends the
    batch exactly as ``PostmarkBackend`` would (``postmark.queue.worker``: same client, results,
    ``post_send``, with this class as the sender), and the log rows written here take its
    results. Each message gets a ``QueuedResult`` now; its final result reaches ``post_send``
    receivers and the batch row. Returns how many were queued.

    A task backend that does not exist raises ImproperlyConfigured here, before anything is
    stored. An enqueue that fails after the commit raises nothing (Django would skip every later
    commit hook, other apps' too): the batch stays "pending", the error is logged, and
    ``manage.py postmark_recover`` enqueues it again.
    """

    @migrated()
    def _send_list(self, email_messages: list[EmailMessage]) -> int:
        require_queue()
        rows = [
            self._row(batch) for batch in build_batches(self, email_messages, self.fail_silently)
        ]
        # A merge_data message's own result sums up its recipients' ("queued").
        settle(message for row in rows for message in row.queued)
        # The batch rows and the log's rows commit together (and with the caller's transaction).
        with transaction.atomic():
            for row in rows:
                # One INSERT per batch: PostgreSQL's bulk_create sends rows as arrays, and quoting
                # a batch's JSON inside an array literal costs more than the extra round trip.
                row.row.save(force_insert=True)
            if settings.POSTMARK_STORE_MESSAGES:
                log_queued([logged for row in rows for logged in row.logged])
        # After commit: a worker must never pick up a task whose row it cannot see yet, and a
        # rolled-back request must not send mail. (In autocommit this runs right away.)
        transaction.on_commit(partial(self._enqueue, rows), robust=True)
        return sum(len(row.queued) for row in rows)

    @staticmethod
    def _row(batch: Batch) -> _Queued:
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
        queued = _Queued(QueuedBatch(id=uuid.uuid4(), state=QueuedBatch.State.PENDING))
        queued.row.template = batch.template
        link_field = settings.POSTMARK_LINK_FIELD
        for message, payload in zip(batch.messages, batch.payloads, strict=True):
            # The id in the message's Metadata, which also links its log row to its entry, for
            # the worker to update that row; a Bulk API message's rows go by its recipients'.
            log_id: str | None = str(uuid.uuid4())  # not sent: its row needs an id all the same
            if payload is not None:
                log_id = None if batch.bulk else payload["Metadata"][link_field]
            queued.logged.append((message, log_id))
            if payload is None:  # suppressed or refused: its result is already final
                result = result_of(message)
                queued.row.messages.append(
                    message_entry(
                        message, None, result, bulk=batch.bulk, server=server, log_id=log_id
                    )
                )
                continue
            queued_result = QueuedResult(
                Status.QUEUED,
                recipients=list(message.recipients()),
                message="Queued for sending.",
                batch_id=str(queued.row.id),
                link_id=log_id,  # the id it is sent with, as a sent message's result has
            )
            set_result(message, queued_result)
            queued.row.messages.append(
                message_entry(message, payload, None, bulk=batch.bulk, server=server, log_id=log_id)
            )
            queued.queued.append(message)
            queued.queued_results.append(queued_result)
        return queued

    @staticmethod
    def _enqueue(rows: list[_Queued]) -> None:
        """Enqueue each batch's task (a commit hook): this raises nothing, since Django runs no
        later commit hook, the caller's or other apps', once one has raised."""
        for row in rows:
            try:
                task_id = enqueue(str(row.row.id))
            except Exception:
                # Nothing is lost: the row stays "pending" (and its messages "queued") for
                # postmark_recover, which enqueues a batch left without a task.
                logger.error(
                    "Could not enqueue the task of batch %s; the batch stays pending, and "
                    "`manage.py postmark_recover` enqueues it again once it is older than "
                    "POSTMARK_QUEUE_STALE_AFTER.",
                    row.row.id,
                    exc_info=True,
                )
                for result in row.queued_results:
                    result.message = (
                        "Queued; its task could not be enqueued yet (postmark_recover will)."
                    )
                continue
            for result in row.queued_results:
                result.task_id = task_id
