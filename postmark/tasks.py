"""The task that ``QueuedPostmarkBackend`` enqueues, and its enqueueing.

The task stays here, at ``postmark.tasks.send_queued_batch``, although its work is done in
``postmark.queue``: a task backend stores each queued task by its function's module path, so
tasks enqueued before an upgrade name this path, and README documents it. Importing this module
makes the task on POSTMARK_QUEUE_TASK_BACKEND (Celery's bridge registers it then): with a
backend that does not exist, the import raises ImproperlyConfigured naming the setting. Only the
queue imports it (by its path): ``PostmarkBackend`` works whatever the queue's settings say.
"""

from __future__ import annotations

from .queue import recovery
from .queue.queueing import enqueue, queue_task
from .queue.worker import deliver

__all__ = ["enqueue", "recover", "send_queued_batch"]


# Defaults from settings: a task backend validates the queue name as soon as the task is made.
@queue_task
def send_queued_batch(batch_id: str) -> dict[str, str]:
    """Send one ``QueuedBatch``; safe to run any number of times for the same batch."""
    outcome = deliver(batch_id)
    if outcome.retry_at is not None:
        # If this process dies before the enqueue, the row is "pending" without a task:
        # postmark_recover enqueues it again. Nothing was sent, so nothing can be doubled.
        enqueue(batch_id, run_after=outcome.retry_at)
    return {"batch": batch_id, "state": outcome.state}


def recover(stale_after: float | None = None) -> recovery.Recovered:
    """``postmark.queue.recovery.recover``, re-enqueueing with this module's task."""
    return recovery.recover(stale_after, enqueue)
