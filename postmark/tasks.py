"""The task that ``QueuedPostmarkBackend`` enqueues, and its enqueueing.

The task stays here, at ``postmark.tasks.send_queued_batch``, although its work is done in
``postmark.queue``: a task backend stores each queued task by its function's module path, so
tasks enqueued before an upgrade name this path, and README documents it.
"""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from .conf import settings
from .models import QueuedBatch
from .queue import recovery
from .queue.tasks_api import task
from .queue.worker import deliver

__all__ = ["enqueue", "recover", "send_queued_batch"]


# Defaults from settings: a task backend validates the queue name as soon as the task is made.
@task(backend=settings.POSTMARK_QUEUE_TASK_BACKEND, queue_name=settings.POSTMARK_QUEUE_NAME)
def send_queued_batch(batch_id: str) -> dict[str, str]:
    """Send one ``QueuedBatch``; safe to run any number of times for the same batch."""
    outcome = deliver(batch_id)
    if outcome.retry_at is not None:
        # If this process dies before the enqueue, the row is "pending" without a task:
        # postmark_recover enqueues it again. Nothing was sent, so nothing can be doubled.
        enqueue(batch_id, run_after=outcome.retry_at)
    return {"batch": batch_id, "state": outcome.state}


def enqueue(batch_id: str, *, run_after: datetime | None = None) -> str:
    """Enqueue the task for a batch on the configured task backend; return the task id."""
    queued_task = send_queued_batch.using(
        backend=settings.POSTMARK_QUEUE_TASK_BACKEND, queue_name=settings.POSTMARK_QUEUE_NAME
    )
    if run_after is not None and queued_task.get_backend().supports_defer:
        queued_task = queued_task.using(run_after=run_after)
    result = queued_task.enqueue(batch_id)
    QueuedBatch.objects.filter(pk=batch_id).update(task_id=result.id, enqueued_at=timezone.now())
    return str(result.id)


def recover(stale_after: float | None = None) -> dict[str, int]:
    """``postmark.queue.recovery.recover``, re-enqueueing with this module's task."""
    return recovery.recover(stale_after, enqueue)
