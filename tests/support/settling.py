"""Settling in the tests: a message whose outcome is unknown (the sandbox plays a fault on its
call), time moved on for the log, and the task backend's tasks run as workers would."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.mail import get_connection
from django.db.models import F
from django.utils import timezone

from postmark.message import PostmarkEmailMessage
from postmark.models import Message
from postmark.sandbox import Sandbox

#: The wait before "not found" is believed, in these tests (time is moved on by ``later``).
TRUSTED_AFTER = 3600


def unknown(
    sandbox: Sandbox, *faults: str | None, to: str = "ann@example.com", **options: Any
) -> Message:
    """A message sent while the sandbox plays ``faults``, whose outcome is unknown; its row."""
    sandbox.faults.plan(faults)
    message = PostmarkEmailMessage("Hi", "Body", "shop@example.com", [to], **options)
    get_connection(fail_silently=True).send_messages([message])
    assert message.postmark.status == "unknown"  # type: ignore[attr-defined]
    return Message.objects.get(link_id=message.postmark.link_id)  # type: ignore[attr-defined]


def later(seconds: float = TRUSTED_AFTER + 1) -> None:
    """Time moves on for the log: every send it recorded happened ``seconds`` earlier."""
    shift = timedelta(seconds=seconds)
    Message.objects.update(
        created_at=F("created_at") - shift,
        unknown_since=F("unknown_since") - shift,
        resent_at=F("resent_at") - shift,
    )


def run_every_task(backend: Any, commit: Any) -> None:
    """Run the tasks that are due, and the ones they enqueue, until none is due (as workers
    would); a task to run later (``run_after``) stays enqueued."""
    for _ in range(10):
        now = timezone.now()
        due = [r for r in backend.results if r.task.run_after is None or r.task.run_after <= now]
        if not due:
            return
        taken = {id(result) for result in due}
        backend.results[:] = [r for r in backend.results if id(r) not in taken]
        with commit(execute=True):
            for result in due:
                result.task.call(*result.args, **result.kwargs)
    raise AssertionError("tasks kept enqueueing tasks that are due at once")
