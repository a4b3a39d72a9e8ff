"""When inbound mail is processed: on the task queue that queued sending uses
(POSTMARK_QUEUE_TASK_BACKEND), or in the process that kept it (POSTMARK_INBOUND_PROCESSING =
"sync"); again on request (``reprocess``, ``reroute``); and by ``manage.py postmark_inbound``,
which takes back mail whose worker died and runs what is due.

A newly kept message's task is enqueued inside the webhook's transaction when the queue is a
table of the same database (django-tasks-db's ``DatabaseBackend``): the record and its task are
committed together, in the webhook's one commit, or not at all. Any other queue (Redis, a
broker, the immediate backend) is given the task once that transaction has committed, so that
a worker never looks for a record that is not there yet.

Scheduling a message twice is harmless: only one claim of it succeeds (``handling``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from functools import partial
from typing import TypedDict

from django.apps import apps
from django.core.exceptions import ImproperlyConfigured
from django.db import router, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.module_loading import import_string

from ..conf import settings
from ..queue.queueing import queue_problem, require_queue
from ..queue.tasks_api import task_backends
from .handling import process
from .record import InboundMessage

#: The task, by the path a task backend stores it under (``postmark.tasks`` makes it when
#: imported, which needs the task backend: named here, not imported).
INBOUND_TASK = "postmark.tasks.process_inbound_message"
MODES = ("task", "sync")
Status = InboundMessage.Status
#: What ``reprocess`` and ``reroute`` take; processed and bounced mail is done with, and routed
#: mail is a worker's.
AGAIN = (Status.RECEIVED, Status.FAILED, Status.UNROUTED)
_CHUNK = 500


def processing_mode() -> str:
    mode = settings.POSTMARK_INBOUND_PROCESSING
    if mode not in MODES:
        raise ImproperlyConfigured(
            f'POSTMARK_INBOUND_PROCESSING is {mode!r}: use "task" (on the task queue) or "sync" '
            "(in the process that received the mail)."
        )
    return str(mode)


def schedule(key: str) -> None:
    """Have the message processed: enqueued, or ("sync") processed here and now."""
    if processing_mode() == "sync":
        process(key)  # a failure's retry is left to postmark_inbound: nothing here can wait
    else:
        enqueue(key)


def schedule_new(key: str, using: str) -> None:
    """Have a message just kept (in the current transaction on ``using``) processed: its task
    enqueued in this transaction when the queue is a table of that database, else everything
    left until the transaction commits (``robust``: a queue that cannot take the task then must
    not fail the webhook, whose row is committed; the record stays "received" for
    ``postmark_inbound``)."""
    if settings.POSTMARK_INBOUND_PROCESSING == "task" and _queue_in_database(using):
        enqueue(key)
    else:
        transaction.on_commit(partial(schedule, key), using=using, robust=True)


def _queue_in_database(using: str) -> bool:
    """Whether POSTMARK_QUEUE_TASK_BACKEND keeps its tasks in a table of the database ``using``
    (django-tasks-db's backend, its table routed there), and can take a task now."""
    try:
        from django_tasks_db import DatabaseBackend
    except ImportError:  # not installed: no such queue
        return False
    if queue_problem() is not None:
        return False
    backend = task_backends[settings.POSTMARK_QUEUE_TASK_BACKEND]
    if not isinstance(backend, DatabaseBackend):
        return False
    if not apps.is_installed("django_tasks_db"):
        # Its enqueue would fail: after the commit that is logged, not a failed webhook.
        return False
    from django_tasks_db.models import DBTaskResult

    return router.db_for_write(DBTaskResult) == using


def run(key: str) -> dict[str, str]:
    """The task's work: process the message, and enqueue its retry when one is due."""
    outcome = process(key)
    if outcome.retry_at is not None and processing_mode() == "task":
        enqueue(key, run_after=outcome.retry_at)
    return {"message": key, "status": outcome.status}


def enqueue(key: str, *, run_after: datetime | None = None) -> str | None:
    """Enqueue the task for a message; its id, or None for a retry that this task backend
    cannot defer (it would run at once, again and again): postmark_inbound runs it when due."""
    require_queue()
    task = import_string(INBOUND_TASK).using(
        backend=settings.POSTMARK_QUEUE_TASK_BACKEND, queue_name=settings.POSTMARK_QUEUE_NAME
    )
    if run_after is not None:
        if not task.get_backend().supports_defer:
            return None
        task = task.using(run_after=run_after)
    return str(task.enqueue(key).id)


def _schedule_after_commit(keys: Iterable[str]) -> None:
    using = router.db_for_write(InboundMessage)
    for key in keys:
        transaction.on_commit(partial(schedule, key), using=using, robust=True)


def _pks(records: Iterable[InboundMessage] | QuerySet[InboundMessage]) -> list[int]:
    if isinstance(records, QuerySet):
        return list(records.values_list("pk", flat=True))
    return [record.pk for record in records]


def _chunks(pks: list[int]) -> Iterator[list[int]]:
    for start in range(0, len(pks), _CHUNK):
        yield pks[start : start + _CHUNK]


Records = Iterable[InboundMessage] | QuerySet[InboundMessage]


def reprocess(records: Records, *, here: bool = False) -> int:
    """Process these records again, each with a full set of attempts, in the mailbox they were
    routed to (unrouted mail is routed again): failed (retries spent or not), unrouted and
    received ones; processed, bounced and routed (a worker's) ones are left as they are.
    Scheduled when the current transaction commits (``here``: processed in this process at
    once, outside any transaction); returns how many."""
    return _again(_pks(records), {}, here)


def reroute(records: Records, *, here: bool = False) -> int:
    """As ``reprocess``, but each is routed again first, by the routes declared now."""
    return _again(_pks(records), {"mailbox": ""}, here)


def _again(pks: list[int], changes: dict[str, str], here: bool) -> int:
    keys: list[str] = []
    for chunk in _chunks(pks):
        rows = InboundMessage.objects.filter(pk__in=chunk)
        rows.filter(status__in=AGAIN).update(
            status=Status.RECEIVED, attempts=0, next_attempt_at=None, claimed_at=None, **changes
        )
        keys += rows.filter(status=Status.RECEIVED).values_list("message_id", flat=True)
    if here:
        for key in keys:
            run(key)
    else:
        _schedule_after_commit(keys)
    return len(keys)


class Pending(TypedDict):
    taken_back: int  # routed mail whose worker was gone, made received again
    scheduled: int  # mail enqueued (or processed here)


def process_pending(*, stale_after: float | None = None, here: bool = False) -> Pending:
    """Take back mail whose worker died (routed for ``stale_after`` seconds, by default
    POSTMARK_INBOUND_STALE_AFTER, with no live worker holding it), then enqueue (``here``:
    process in this process) the mail that is due: failed mail whose retry time has come, and
    received mail waiting that long (its task lost, or never made)."""
    stale = settings.POSTMARK_INBOUND_STALE_AFTER if stale_after is None else stale_after
    now = timezone.now()
    cutoff = now - timedelta(seconds=stale)
    counts = Pending(taken_back=_take_back(cutoff), scheduled=0)
    due = InboundMessage.objects.filter(
        Q(status=Status.RECEIVED, received_at__lte=cutoff)
        | Q(status=Status.RECEIVED, claimed_at__isnull=False)  # taken back
        | Q(status=Status.FAILED, next_attempt_at__lte=now)
    )
    for chunk in _chunks(list(due.values_list("pk", flat=True))):
        keys = InboundMessage.objects.filter(pk__in=chunk).values_list("message_id", flat=True)
        for key in list(keys):
            if here:
                run(key)
            else:
                enqueue(key)
            counts["scheduled"] += 1
    return counts


def _take_back(cutoff: datetime) -> int:
    """Routed rows claimed before ``cutoff`` that no live worker holds, made received again.
    (Databases without row locks, SQLite, rely on the delay alone.)"""
    stale = InboundMessage.objects.filter(status=Status.ROUTED, claimed_at__lte=cutoff)
    taken = 0
    for chunk in _chunks(list(stale.values_list("pk", flat=True))):
        with transaction.atomic(using=router.db_for_write(InboundMessage)):
            free = stale.filter(pk__in=chunk).select_for_update(skip_locked=True)
            pks = list(free.values_list("pk", flat=True))
            taken += stale.filter(pk__in=pks).update(status=Status.RECEIVED)
    return taken
