"""Which failures the task tries again later (only those Postmark certainly did not take),
and which settle the batch at once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from postmark.models import Message, QueuedBatch
from tests.support.fake_postmark import FakePostmark, Reply
from tests.support.queued_sending import messages, run_tasks, send

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "reply", [Reply(503, {"ErrorCode": 0, "Message": "Down"}), Reply(429, {"Message": "Slow"})]
)
def test_a_batch_postmark_certainly_did_not_take_is_retried_later_and_sent_once(
    queued: Any,
    fake_postmark: FakePostmark,
    reply: Reply,
    django_capture_on_commit_callbacks: Any,
) -> None:
    send(messages(2), commit=django_capture_on_commit_callbacks)
    fake_postmark.script(reply)
    before = timezone.now()
    assert run_tasks(queued)[0]["state"] == "pending"
    batch = QueuedBatch.objects.get()
    assert (batch.state, batch.attempts) == ("pending", 1)
    # No post_send for an attempt that will be repeated: the log rows are still "queued".
    assert list(Message.objects.values_list("status", flat=True)) == ["queued", "queued"]
    [retry] = queued.results
    assert retry.task.run_after >= before + timedelta(seconds=29)
    assert run_tasks(queued)[0]["state"] == "sent"
    assert len(fake_postmark.requests) == 2
    assert Message.objects.filter(status="sent").count() == Message.objects.count() == 2


def test_connection_refused_is_retried_later(
    queued: Any, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    send(messages(1), commit=django_capture_on_commit_callbacks)
    settings.POSTMARK_API_URL = "http://127.0.0.1:9"  # nothing listens on the discard port
    assert run_tasks(queued)[0]["state"] == "pending"
    assert "Could not connect" in QueuedBatch.objects.get().error
    assert len(queued.results) == 1


@pytest.mark.parametrize(
    ("reply", "state", "error_code"),
    [
        (Reply(drop=True), "unknown", None),
        (Reply(500, {"ErrorCode": 0, "Message": "Oops"}), "unknown", None),
        (Reply(401, {"ErrorCode": 10, "Message": "Bad token"}), "failed", 10),
    ],
    ids=["dropped-connection", "500", "refused"],
)
def test_a_batch_not_safe_to_send_again_is_settled_at_once_and_never_retried(
    queued: Any,
    fake_postmark: FakePostmark,
    reply: Reply,
    state: str,
    error_code: int | None,
    django_capture_on_commit_callbacks: Any,
) -> None:
    """Unknown when Postmark may have taken it, failed when it refused it: no retry either way."""
    send(messages(2), commit=django_capture_on_commit_callbacks)
    fake_postmark.script(reply)
    assert run_tasks(queued)[0]["state"] == state
    assert queued.results == []
    assert len(fake_postmark.requests) == 1
    assert Message.objects.filter(status=state, error_code=error_code).count() == 2


def test_retries_stop_after_the_configured_attempts(
    queued: Any,
    fake_postmark: FakePostmark,
    settings: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    settings.POSTMARK_QUEUE_MAX_ATTEMPTS = 2
    send(messages(1), commit=django_capture_on_commit_callbacks)
    fake_postmark.script(Reply(503, {"Message": "Down"}), Reply(503, {"Message": "Still down"}))
    assert run_tasks(queued)[0]["state"] == "pending"
    assert run_tasks(queued)[0]["state"] == "failed"
    assert queued.results == []
    assert QueuedBatch.objects.get().attempts == 2
    assert Message.objects.get().status == "failed"
