"""Settling queued batches whose worker is gone (``manage.py postmark_recover``)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TypedDict

from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from .. import signals
from ..conf import settings
from ..models import QueuedBatch
from ..results import PostmarkResult, Status
from ..sending.recipients import known_state, message_results, result_of, set_result
from .envelope import result_to_json
from .readable import UnreadableBatch, load_messages, mark_unreadable, read_batch
from .tasks_api import TaskResultDoesNotExist, TaskResultStatus, task_backends
from .worker import queued_backend

logger = logging.getLogger("postmark.tasks")

UNKNOWN_AFTER_CRASH = (
    "The worker stopped while this message was being sent; Postmark may have accepted it. "
    "Check Postmark's activity for it before sending it again."
)


class Recovered(TypedDict):
    unknown: int  # batches marked unknown
    enqueued: int  # batches enqueued again
    unreadable: list[str]  # the ids of rows that could not be read (now marked)


def recover(stale_after: float | None, enqueue: Callable[[str], str]) -> Recovered:
    """Settle batches whose worker is gone; return how many were marked unknown and
    re-enqueued, and the ids of the rows that could not be read ("unreadable").

    A batch still "sending" after ``stale_after`` seconds (POSTMARK_QUEUE_STALE_AFTER) whose row
    no live worker holds is marked unknown, with a ``post_send`` of unknown results, and never
    sent again. A batch still "pending" that long whose task is not waiting in the queue any more
    (on Celery, which cannot tell, any such batch) is enqueued again with ``enqueue`` (a
    duplicate task is harmless: only one claim succeeds). A row whose messages cannot be read is
    marked (unknown if it was being sent, else failed) with the reason as its error, and the
    other rows are settled all the same: one bad row must not stop recovery for good.
    """
    if stale_after is None:
        stale_after = settings.POSTMARK_QUEUE_STALE_AFTER
    cutoff = timezone.now() - timedelta(seconds=stale_after)
    counts = Recovered(unknown=0, enqueued=0, unreadable=[])
    sending = QueuedBatch.objects.filter(state=QueuedBatch.State.SENDING, claimed_at__lte=cutoff)
    for batch_id in list(sending.values_list("pk", flat=True)):
        try:
            counts["unknown"] += _mark_unknown(str(batch_id), cutoff)
        except UnreadableBatch:
            counts["unreadable"].append(str(batch_id))
    pending = QueuedBatch.objects.filter(state=QueuedBatch.State.PENDING, created_at__lte=cutoff)
    pending = pending.filter(Q(enqueued_at__isnull=True) | Q(enqueued_at__lte=cutoff))
    for batch_id, task_id in list(pending.values_list("pk", "task_id")):
        if _still_queued(task_id):
            continue
        if not _readable_while_pending(str(batch_id)):
            counts["unreadable"].append(str(batch_id))
            continue
        enqueue(str(batch_id))
        counts["enqueued"] += 1
    return counts


def _mark_unknown(batch_id: str, cutoff: datetime) -> int:
    """1 if the batch was marked unknown, 0 if a worker holds it (or settled it meanwhile);
    UnreadableBatch, once the row is marked unknown with the reason, if it cannot be read."""
    with transaction.atomic():
        # skip_locked: a live worker holds its row's lock for the whole request. (Databases
        # without row locks, such as SQLite, rely on the stale_after delay alone.) The messages
        # are loaded apart, by load_messages: a row whose JSON cannot even be decoded is marked.
        row = (
            QueuedBatch.objects.select_for_update(skip_locked=True)
            .filter(pk=batch_id, state=QueuedBatch.State.SENDING, claimed_at__lte=cutoff)
            .defer("messages")
            .first()
        )
        if row is None:
            return 0
        raw: object = None
        unreadable: UnreadableBatch | None = None
        try:
            raw = load_messages(batch_id)
            messages = read_batch(raw)
        except UnreadableBatch as error:
            mark_unreadable(row, raw, error, QueuedBatch.State.UNKNOWN)
            unreadable = error
        else:
            row.messages = raw
            _settle_unknown(row, messages)
    if unreadable is not None:
        raise unreadable
    logger.warning("Batch %s: its worker died while sending; marked unknown.", batch_id)
    return 1


def _settle_unknown(row: QueuedBatch, messages: list[EmailMessage]) -> None:
    for message, entry in zip(messages, row.messages, strict=True):
        if entry["payload"] is not None:
            recipients = list(message.recipients())
            # The id it was queued with, and its request for the log to keep for settling.
            state = known_state(message)
            unknown = PostmarkResult(
                Status.UNKNOWN,
                recipients=recipients,
                message=UNKNOWN_AFTER_CRASH,
                link_id=state.log_id if state is not None else None,
                request=entry["payload"],
            )
            set_result(message, unknown)
        entry["result"] = result_to_json(result_of(message))
    backend = queued_backend()
    # Robust, as after a send: a receiver that fails must not leave the batch "sending".
    responses = signals.post_send.send_robust(
        sender=type(backend),
        messages=messages,
        results=message_results(messages),
        exception=None,
        backend=backend,
    )
    for receiver, response in responses:
        if isinstance(response, Exception):
            logger.error(
                "post_send receiver %r failed for batch %s", receiver, row.pk, exc_info=response
            )
    for result in message_results(messages):
        result.request = None  # the log kept it; the batch row keeps its own
    row.state = QueuedBatch.State.UNKNOWN
    row.error = UNKNOWN_AFTER_CRASH
    row.finished_at = timezone.now()
    row.save(update_fields=["messages", "state", "error", "finished_at"])


def _readable_while_pending(batch_id: str) -> bool:
    """Whether a pending batch can be sent; one that cannot be read is marked failed (nothing
    of it was sent), unless a worker claimed it meanwhile."""
    with transaction.atomic():
        row = (
            QueuedBatch.objects.select_for_update(skip_locked=True)
            .filter(pk=batch_id, state=QueuedBatch.State.PENDING)
            .defer("messages")
            .first()
        )
        if row is None:
            return True  # claimed meanwhile: its worker reads it
        raw: object = None
        try:
            raw = load_messages(batch_id)
            read_batch(raw)
        except UnreadableBatch as error:
            mark_unreadable(row, raw, error, QueuedBatch.State.FAILED)
            return False
    return True


def _still_queued(task_id: str) -> bool:
    """Whether the batch's last task is still waiting to run (so enqueuing again is pointless).

    Only asked of batches enqueued longer ago than the stale-after window.
    """
    if not task_id:
        return False
    backend = task_backends[settings.POSTMARK_QUEUE_TASK_BACKEND]
    if not backend.supports_get_result or _reports_lost_tasks_as_waiting(backend):
        return False
    try:
        status = backend.get_result(task_id).status
    except TaskResultDoesNotExist:
        return False
    except Exception:
        # Not knowing is no reason to leave the batch unsent: a duplicate task sends nothing.
        logger.warning(
            "Could not look up task %s; enqueuing its batch again.", task_id, exc_info=True
        )
        return False
    return bool(status == TaskResultStatus.READY)


def _reports_lost_tasks_as_waiting(backend: object) -> bool:
    """Whether the task backend says "waiting" (READY) for a task that is lost as well.

    Celery answers PENDING for any task id it has no result for, whether the task waits in the
    broker or was lost with a worker, and its Tasks bridges (django-tasks-fennel) map PENDING to
    READY. On such a backend a batch still pending past the stale-after window is taken as lost
    and enqueued again: if its task was only late, the duplicate finds the batch claimed.
    """
    backend_class = type(backend)
    return "celery" in f"{backend_class.__module__}.{backend_class.__qualname__}".lower()
