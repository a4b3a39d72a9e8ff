"""Putting batches on the task queue: the task backend POSTMARK_QUEUE_TASK_BACKEND names, checked
before anything is queued, and the enqueueing of ``postmark.tasks.send_queued_batch``.

Nothing here touches a task backend when it is imported: the synchronous ``PostmarkBackend``
imports ``postmark.backends``, which imports this, and must work whatever the queue's settings
say. A misconfigured queue is an ImproperlyConfigured naming the setting, raised when the queue
is used (and ``postmark.E020``/``E021`` from ``manage.py check``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import ParamSpec, TypeVar

from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone
from django.utils.module_loading import import_string

from ..conf import settings
from ..models import QueuedBatch
from .tasks_api import Task, task, task_backends

#: The task, by the path a task backend stores it under (README documents it). Named, not
#: imported: ``postmark.tasks`` makes the task when it is imported, which needs the task backend.
SEND_TASK = "postmark.tasks.send_queued_batch"

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
