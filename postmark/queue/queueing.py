"""Putting work on the task queue: the task backend POSTMARK_QUEUE_TASK_BACKEND names, checked
before anything is queued, the enqueueing of ``postmark.tasks.send_queued_batch``, and the
scheduling of ``postmark.tasks.settle_task`` after a send whose outcome is unknown.

Nothing here touches a task backend when it is imported: the synchronous ``PostmarkBackend``
imports ``postmark.backends``, which imports this, and must work whatever the queue's settings
say. A misconfigured queue is an ImproperlyConfigured naming the setting, raised when the queue
is used (and ``postmark.E020``/``E021`` from ``manage.py check``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from functools import partial
from typing import ParamSpec, TypeVar

from django.core.exceptions import ImproperlyConfigured
from django.db import router, transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from ..conf import settings
from ..models import Message, QueuedBatch
from .tasks_api import Task, task, task_backends

#: The task, by the path a task backend stores it under (README documents it). Named, not
#: imported: ``postmark.tasks`` makes the task when it is imported, which needs the task backend.
SEND_TASK = "postmark.tasks.send_queued_batch"
SETTLE_TASK = "postmark.tasks.settle_task"

logger = logging.getLogger("postmark.tasks")

P = ParamSpec("P")
T = TypeVar("T")


def queue_problem() -> tuple[str, str] | None:
    """(check id, what is wrong) when POSTMARK_QUEUE_TASK_BACKEND and POSTMARK_QUEUE_NAME cannot
    take this app's tasks; None when they can."""
    alias = settings.POSTMARK_QUEUE_TASK_BACKEND
    try:
        backend = task_backends[alias]
    except Exception as exc:  # a missing alias, a BACKEND that does not import, a failing init
        # Django's own words for the first two; only the class of anything else, whose text
        # might quote a connection URL and its password.
        why = str(exc) if isinstance(exc, ImproperlyConfigured | ImportError) else ""
        return (
            "postmark.E020",
            f"POSTMARK_QUEUE_TASK_BACKEND is {alias!r}, which is not a usable task backend "
            f"({type(exc).__name__}{': ' + why if why else ''}). Name one of the backends of "
            'your TASKS setting, e.g. POSTMARK_QUEUE_TASK_BACKEND = "default".',
        )
    queues = getattr(backend, "queues", None)
    name = settings.POSTMARK_QUEUE_NAME
    if queues and name not in queues:
        return (
            "postmark.E021",
            f"POSTMARK_QUEUE_NAME is {name!r}, which is not one of the QUEUES of the task "
            f"backend {alias!r} (POSTMARK_QUEUE_TASK_BACKEND): {sorted(queues)!r}.",
        )
    return None


def require_queue() -> None:
    """Raise ImproperlyConfigured, naming the setting, if the queue cannot take a task."""
    problem = queue_problem()
    if problem is not None:
        raise ImproperlyConfigured(problem[1])


def queue_task(function: Callable[P, T]) -> Task[P, T]:
    """``function`` as a task on POSTMARK_QUEUE_TASK_BACKEND and POSTMARK_QUEUE_NAME (for the
    modules a worker imports by path: a bad setting stops them with a clear message)."""
    require_queue()
    return task(
        backend=settings.POSTMARK_QUEUE_TASK_BACKEND, queue_name=settings.POSTMARK_QUEUE_NAME
    )(function)


def enqueue(batch_id: str, *, run_after: datetime | None = None) -> str:
    """Enqueue the task for a batch on the configured task backend; return the task id."""
    require_queue()
    queued_task = import_string(SEND_TASK).using(
        backend=settings.POSTMARK_QUEUE_TASK_BACKEND, queue_name=settings.POSTMARK_QUEUE_NAME
    )
    if run_after is not None and queued_task.get_backend().supports_defer:
        queued_task = queued_task.using(run_after=run_after)
    result = queued_task.enqueue(batch_id)
    QueuedBatch.objects.filter(pk=batch_id).update(task_id=result.id, enqueued_at=timezone.now())
    return str(result.id)


def schedule_settling(
    link_ids: Sequence[object], *, rounds: int = 0, run_after: datetime | None = None
) -> None:
    """Have ``settle_task`` settle these ``Message`` rows (their outcome is unknown) at
    ``run_after`` (POSTMARK_SETTLE_AFTER from now by default), once the current transaction
    commits: the worker must see the rows. Only on a task backend that can run a task later
    (``supports_defer``): one that runs it at once would search before anything could be found.
    Without one, ``manage.py postmark_settle``, run by a scheduler, settles them."""
    if link_ids:
        ids = [str(link_id) for link_id in link_ids]
        on_commit = partial(_enqueue_settling, ids, rounds, run_after)
        transaction.on_commit(on_commit, using=router.db_for_write(Message), robust=True)


def _enqueue_settling(ids: list[str], rounds: int, run_after: datetime | None) -> None:
    if queue_problem() is not None:
        return
    alias = settings.POSTMARK_QUEUE_TASK_BACKEND
    if not task_backends[alias].supports_defer:
        return
    at = run_after or timezone.now() + timedelta(seconds=settings.POSTMARK_SETTLE_AFTER)
    try:
        queued_task = import_string(SETTLE_TASK).using(
            backend=alias, queue_name=settings.POSTMARK_QUEUE_NAME, run_after=at
        )
        queued_task.enqueue(ids, rounds)
    except Exception:
        # A commit hook raises nothing (Django would skip the later ones); the rows stay unknown
        # for manage.py postmark_settle, which settles every row that is due.
        logger.error(
            "Could not enqueue the settling of %d message(s) whose outcome is unknown; "
            "`manage.py postmark_settle` settles them.",
            len(ids),
            exc_info=True,
        )
