"""Every task the app makes: the one ``QueuedPostmarkBackend`` enqueues (``send_queued_batch``),
the one a send whose outcome is unknown schedules (``settle_task``), inbound mail's
(``process_inbound_message``) and the operations' (``sync_task``, ``purge_task``,
``bulk_status_task``), all in the module Celery's autodiscovery imports.

The task stays here, at ``postmark.tasks.send_queued_batch``, although its work is done in
``postmark.queue``: a task backend stores each queued task by its function's module path, so
tasks enqueued before an upgrade name this path, and README documents it. Importing this module
makes the task on POSTMARK_QUEUE_TASK_BACKEND (Celery's bridge registers it then): with a
backend that does not exist, the import raises ImproperlyConfigured naming the setting. Only the
queue imports it (by its path): ``PostmarkBackend`` works whatever the queue's settings say.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta
from typing import Any

from .inbound.scheduling import run as inbound_run
from .operations.bulk import follow_bulk_request
from .operations.retention import purge
from .operations.settle import settle
from .operations.sync import sync_bounces, sync_suppressions
from .queue import recovery
from .queue.queueing import enqueue, queue_task, schedule_settling
from .queue.worker import deliver

__all__ = [
    "bulk_status_task",
    "enqueue",
    "process_inbound_message",
    "purge_task",
    "recover",
    "send_queued_batch",
    "settle_task",
    "sync_task",
]

logger = logging.getLogger("postmark.tasks")

#: How many times ``settle_task`` follows its rows up: twice is the usual (a first search, then
#: one once "not found" is believed), a few more after a resend or a search that failed.
SETTLE_ROUNDS = 12


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


@queue_task
def settle_task(link_ids: list[str] | None = None, rounds: int = 0) -> dict[str, int]:
    """Settle the ``Message`` rows whose outcome is unknown (these, or every one that is due),
    as ``manage.py postmark_settle`` does; the rows left for later are followed up by a task of
    their own at the time they are due. Safe to run any number of times, at once too."""
    report = settle(link_ids)
    if link_ids is not None and report.waiting:
        if rounds < SETTLE_ROUNDS:
            schedule_settling(report.waiting, rounds=rounds + 1, run_after=report.next_at)
        else:
            logger.error(
                "%d message(s) are still unsettled after %d rounds; `manage.py postmark_settle` "
                "settles them once Postmark's search answers.",
                len(report.waiting),
                rounds,
            )
    return report.as_dict()


def recover(stale_after: float | None = None) -> recovery.Recovered:
    """``postmark.queue.recovery.recover``, re-enqueueing with this module's task."""
    return recovery.recover(stale_after, enqueue)


# ``postmark_sync``, ``postmark_purge`` and ``postmark_bulk_status`` as tasks, for the queue
# backends' workers and their schedulers (on POSTMARK_QUEUE_TASK_BACKEND)::
#
#     sync_task.enqueue()            # e.g. hourly from your scheduler
#     purge_task.enqueue()           # e.g. nightly
#     bulk_status_task.enqueue(message.postmark.bulk_request_id)   # after a Bulk API send


@queue_task
def process_inbound_message(message_id: str) -> dict[str, str]:
    """Route and process one kept inbound message (``postmark.inbound``), by its record's
    ``message_id``; any number of runs process it at most once. A failure's retry is enqueued
    here, deferred, while attempts remain."""
    return inbound_run(message_id)


@queue_task
def sync_task(
    what: str = "all", since: str | None = None, stream: str | None = None
) -> dict[str, dict[str, int]]:
    """Sync "bounces", "suppressions" or "all"; since is an ISO date. Returns the summaries."""
    start = date.fromisoformat(since) if since else None
    summaries = []
    # Suppressions first, as postmark_sync does: the bounces' step suppresses the addresses of
    # new inactive bounces, and run first it would leave the suppressions' step "0 new".
    if what in ("suppressions", "all"):
        summaries.append(sync_suppressions(since=start, stream=stream))
    if what in ("bounces", "all"):
        summaries.append(sync_bounces(since=start, stream=stream))
    return {
        s.kind: {"new": s.new, "updated": s.updated, "unchanged": s.unchanged} for s in summaries
    }


@queue_task
def purge_task(older_than_days: float | None = None) -> dict[str, int]:
    """Delete what is older than the retention period (POSTMARK_RETENTION_DAYS by default)."""
    age = timedelta(days=older_than_days) if older_than_days is not None else None
    return purge(age)


@queue_task
def bulk_status_task(
    bulk_id: str, interval: float = 5.0, timeout: float | None = 3600.0
) -> dict[str, Any]:
    """Follow a Bulk API request to Completed or Failed and settle its log rows (as
    ``manage.py postmark_bulk_status``); returns Postmark's last status. A failed request
    raises BulkRequestFailed, so that the task's result says it failed."""
    return follow_bulk_request(bulk_id, interval=interval, timeout=timeout)
