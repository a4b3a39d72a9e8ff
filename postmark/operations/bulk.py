"""Following a Bulk API request to its end (``manage.py postmark_bulk_status ID``, and
``postmark.tasks.bulk_status_task``).

Postmark answers a bulk send with the request's ID only; ``GET /email/bulk/{id}`` tells how far
it is (Accepted, Processing, then Completed or Failed). At the end the request's ``Message``
rows still "queued" become "sent" (Completed) or "failed" (Failed); rows that webhooks have
moved on already (delivered, bounced...) keep their status.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django.utils import timezone

from ..client import Client
from ..exceptions import BulkRequestFailed
from ..models import Message

#: Where a request ends; every other status means "not yet".
FINAL_STATUSES = ("Completed", "Failed")

OnStatus = Callable[[dict[str, Any]], None]


def follow_bulk_request(
    bulk_id: str,
    *,
    client: Client | None = None,
    interval: float = 5.0,
    timeout: float | None = None,
    on_status: OnStatus | None = None,
) -> dict[str, Any]:
    """Ask for the request's status every ``interval`` seconds until it is Completed or Failed
    (or ``timeout`` seconds have passed: the last status is returned, not final); settle its
    log rows at the end. Raises BulkRequestFailed when it failed."""
    own_client = client is None
    client = client or Client.from_settings()
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        while True:
            status = client.get_bulk_status(bulk_id)
            if on_status is not None:
                on_status(status)
            if status.get("Status") in FINAL_STATUSES:
                break
            if deadline is not None and time.monotonic() + interval > deadline:
                return status
            time.sleep(interval)
    finally:
        if own_client:
            client.close()
    settle_rows(bulk_id, str(status["Status"]))
    if status["Status"] == "Failed":
        raise BulkRequestFailed(f"Postmark's bulk request {bulk_id} failed.")
    return status


def settle_rows(bulk_id: str, final_status: str) -> int:
    """The request's rows still "queued" become "sent" (Completed) or "failed"; how many."""
    failed = final_status == "Failed"
    changes: dict[str, Any] = {
        "status": Message.Status.FAILED if failed else Message.Status.SENT,
        "updated_at": timezone.now(),
    }
    if failed:
        changes["error"] = f"Postmark's bulk request {bulk_id} failed."
    rows = Message.objects.filter(bulk_request_id=bulk_id, status=Message.Status.QUEUED)
    return rows.update(**changes)


def describe(status: dict[str, Any]) -> str:
    """One line for a person: "Processing: 40% of 1000 messages"."""
    return (
        f"{status.get('Status', '?')}: {status.get('PercentageCompleted', '?')}% of "
        f"{status.get('TotalMessages', '?')} messages"
    )
