"""The worker's send: claim a ``QueuedBatch``, send it as ``PostmarkBackend`` would, record it.

A batch's row, not the task queue, is the record of what happened to it. Each irreversible step
is preceded by a committed state change:

    pending ──claim (committed)──> sending ──request + post_send + results (one commit)──> sent
                                      │                                                   failed
                                      │ the worker died: the row stays "sending"          unknown
                                      └──> postmark_recover marks it "unknown" (never re-sent)

So a task delivered twice sends once (only one claim succeeds), and a worker killed at any point
leaves either a "pending" row (nothing was sent: recovery enqueues it again) or a "sending" row
(Postmark may have the messages: recovery marks them unknown for a person to decide).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.core.mail.backends.base import BaseEmailBackend
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.module_loading import import_string

from ..conf import settings
from ..exceptions import PostmarkError, is_safe_to_retry
from ..models import QueuedBatch
from ..results import PostmarkResult, Status
from ..sending.recipients import message_results
from ..sending.send_loop import Batch, CallAnswer, finish_batch, send_batches
from .envelope import is_bulk_call, listed_server_token, result_to_json, server_of
from .readable import UnreadableBatch, load_messages, mark_unreadable, read_batch

if TYPE_CHECKING:  # imported by its path at run time, as Django imports email backends
    from ..backends import PostmarkBackend

logger = logging.getLogger("postmark.tasks")

#: The backend on whose behalf a worker sends (the ``sender`` of its ``post_send``). Named by
#: its path, as Django names every email backend: that module enqueues this one's task, so an
#: import here would be a circle.
QUEUED_BACKEND = "postmark.backends.QueuedPostmarkBackend"


def queued_backend() -> PostmarkBackend:
    # What get_connection() does, without it: Django 6.1 deprecates get_connection().
    backend: PostmarkBackend = import_string(QUEUED_BACKEND)(fail_silently=True)
    return backend


class RetryLater(Exception):
    """The whole batch failed in a way that proves Postmark did not take it; try again later.

    Deliberately not a PostmarkError: it leaves ``post_batch`` before any result is set or
    ``post_send`` is sent, since the batch is not finished yet.
    """

    def __init__(self, error: PostmarkError) -> None:
        super().__init__(str(error))
        self.error = error


@dataclass(frozen=True)
class BatchOutcome:
    state: str
    #: When to try the batch again (it is "pending" once more), or None.
    retry_at: datetime | None = None


def deliver(batch_id: str) -> BatchOutcome:
    """Claim the batch, send it, record the outcome. The caller enqueues any retry."""
    claimed_at = timezone.now()
    claimed = QueuedBatch.objects.filter(pk=batch_id, state=QueuedBatch.State.PENDING).update(
        state=QueuedBatch.State.SENDING, claimed_at=claimed_at, attempts=F("attempts") + 1
    )
    if not claimed:
        # Redelivered, or settled by postmark_recover: whoever claimed it owns it.
        state = QueuedBatch.objects.filter(pk=batch_id).values_list("state", flat=True).first()
        logger.info("Batch %s not sent by this task: it is %s.", batch_id, state or "gone")
        return BatchOutcome(str(state or "missing"))

    # The claim above is committed; from here on a crash leaves "sending" (never a re-send).
    # The request, post_send and the final state share one transaction, holding the row's lock:
    # either all of it is committed, or the row stays "sending" and its lock dies with the
    # worker's connection, which is how postmark_recover tells a dead worker from a slow one.
    with transaction.atomic():
        # The messages are loaded apart (load_messages): a row whose JSON cannot be decoded or
        # read is marked failed (nothing of it was sent), not left "sending" by an exception.
        row = QueuedBatch.objects.select_for_update().defer("messages").get(pk=batch_id)
        if row.state != QueuedBatch.State.SENDING or row.claimed_at != claimed_at:
            return BatchOutcome(str(row.state))
        raw: object = None
        try:
            raw = load_messages(batch_id)
            messages = read_batch(raw)
        except UnreadableBatch as unreadable:
            mark_unreadable(row, raw, unreadable, QueuedBatch.State.FAILED)
            return BatchOutcome(str(row.state))
        row.messages = raw
        payloads = [entry["payload"] for entry in row.messages]
        retry_allowed = row.attempts < settings.POSTMARK_QUEUE_MAX_ATTEMPTS

        def retry_if_safe(error: PostmarkError) -> None:
            if retry_allowed and is_safe_to_retry(error):
                raise RetryLater(error) from error

        backend = queued_backend()
        backend.open()
        try:
            client = backend.client
            assert client is not None  # open() made it
            # A task holds one batch, so this is one call (no thread): queued sending makes
            # calls at once by running several workers.
            server = server_of(row.messages)
            batch = Batch(
                template=row.template,
                messages=messages,
                payloads=payloads,
                bulk=is_bulk_call(row.messages),
                server_token=listed_server_token(server),
            )
            error: PostmarkError | None
            if server and batch.server_token is None and any(p is not None for p in payloads):
                error = _fail_unlisted_server(backend, batch, server)
            else:
                error = send_batches(backend, client, [batch], True, retry_if_safe)
        except RetryLater as retry:
            row.state = QueuedBatch.State.PENDING
            row.error = f"Attempt {row.attempts} failed, will retry: {retry.error}"
            row.enqueued_at = timezone.now()  # recovery leaves it to the coming retry task
            row.save(update_fields=["state", "error", "enqueued_at"])
            delay = settings.POSTMARK_QUEUE_RETRY_DELAY * 2 ** (row.attempts - 1)
            return BatchOutcome(str(row.state), timezone.now() + timedelta(seconds=delay))
        finally:
            backend.close()
        results = message_results(messages)
        for entry, result in zip(row.messages, results, strict=True):
            entry["result"] = result_to_json(result)
        row.state = _state_of(results, error)
        row.error = str(error) if error is not None else ""
        row.finished_at = timezone.now()
        row.save(update_fields=["messages", "state", "error", "finished_at"])
    return BatchOutcome(str(row.state))


def _fail_unlisted_server(backend: BaseEmailBackend, batch: Batch, label: str) -> PostmarkError:
    """No request: the batch's server is no longer among POSTMARK_SERVER_TOKENS (the setting
    changed after it was queued). Each message fails, ``post_send`` is sent, and no attempt
    follows, since a later one would find the same setting."""
    error = PostmarkError(
        f"Not sent: this batch was queued for the Postmark server labelled {label!r}, and no "
        "token in POSTMARK_SERVER_TOKENS has that label any more. Put the server's token back "
        "in POSTMARK_SERVER_TOKENS and send the messages again."
    )
    sending = [m for m, p in zip(batch.messages, batch.payloads, strict=True) if p is not None]
    finish_batch(backend, batch, CallAnswer(sending, error=error))
    return error


def _state_of(results: Sequence[PostmarkResult], error: PostmarkError | None) -> str:
    if any(result.status == Status.UNKNOWN for result in results):
        return QueuedBatch.State.UNKNOWN
    return QueuedBatch.State.FAILED if error is not None else QueuedBatch.State.SENT
