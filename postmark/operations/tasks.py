"""``postmark_sync`` and ``postmark_purge`` as tasks, for the queue backends' workers and their
schedulers (on the task backend queued sending uses, ``POSTMARK_QUEUE_TASK_BACKEND``)::

    from postmark.operations.tasks import purge_task, sync_task
    sync_task.enqueue()            # e.g. hourly from your scheduler
    purge_task.enqueue()           # e.g. nightly
    bulk_status_task.enqueue(message.postmark.bulk_request_id)   # after a Bulk API send
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from ..queue.queueing import queue_task
from .bulk import follow_bulk_request
from .retention import purge
from .sync import sync_bounces, sync_suppressions


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
