"""``manage.py postmark_recover`` settles batches whose worker is gone: unknown when it died
while sending, enqueued again when its task was lost; the admin lists them."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from postmark.models import Message, QueuedBatch
from tests.support.fake_postmark import FakePostmark
from tests.support.queued_sending import messages, run_tasks, send

pytestmark = pytest.mark.django_db


def _abandon(state: str, minutes_ago: int = 30) -> QueuedBatch:
    """Make the one batch look as a worker killed long ago would have left it."""
    then = timezone.now() - timedelta(minutes=minutes_ago)
    QueuedBatch.objects.update(state=state, claimed_at=then, created_at=then, enqueued_at=then)
    return QueuedBatch.objects.get()


def _recover(*args: str) -> str:
    out = StringIO()
    call_command("postmark_recover", *args, stdout=out)
    return out.getvalue()


def _settle_a_batch_abandoned_while_sending(count: int, commit: Any) -> QueuedBatch:
    send(messages(count), commit=commit)
    _abandon("sending")
    _recover()
    return QueuedBatch.objects.get()


def test_recover_marks_a_batch_abandoned_while_sending_unknown_and_never_sends_it(
    queued: Any, fake_postmark: FakePostmark, django_capture_on_commit_callbacks: Any
) -> None:
    batch = _settle_a_batch_abandoned_while_sending(2, django_capture_on_commit_callbacks)
    assert batch.state == "unknown"
    assert [e["result"]["status"] for e in batch.messages] == ["unknown", "unknown"]
    logged = Message.objects.all()
    assert [m.status for m in logged] == ["unknown", "unknown"]
    assert "may have accepted" in logged[0].error
    run_tasks(queued)  # the original task, delivered late, must not send it
    assert fake_postmark.requests == []
    _recover()
    assert Message.objects.count() == 2  # a second recovery changes nothing


def test_recover_enqueues_again_a_pending_batch_whose_task_was_lost_and_it_is_sent_once(
    queued: Any, fake_postmark: FakePostmark, django_capture_on_commit_callbacks: Any
) -> None:
    send(messages(2), commit=django_capture_on_commit_callbacks)
    queued.clear()  # the queue lost the task
    _abandon("pending")
    recover_output = _recover()
    assert "1 enqueued again" in recover_output
    assert len(queued.results) == 1
    run_tasks(queued)
    assert len(fake_postmark.requests) == 1
    assert QueuedBatch.objects.get().state == "sent"


def test_recover_leaves_recent_batches_alone(
    queued: Any, django_capture_on_commit_callbacks: Any
) -> None:
    send(messages(1), commit=django_capture_on_commit_callbacks)
    _abandon("sending", minutes_ago=1)
    assert "0 batch(es) marked unknown, 0 enqueued again" in _recover()
    assert QueuedBatch.objects.get().state == "sending"
    assert "1 batch(es) marked unknown" in _recover("--stale-after", "30")


def test_recover_refuses_a_negative_delay() -> None:
    with pytest.raises(CommandError, match="zero or more"):
        call_command("postmark_recover", "--stale-after", "-1")


def test_the_admin_lists_batches_for_a_person_to_decide_on(
    queued: Any, admin_client: Any, django_capture_on_commit_callbacks: Any
) -> None:
    batch = _settle_a_batch_abandoned_while_sending(3, django_capture_on_commit_callbacks)
    page = admin_client.get("/admin/postmark/queuedbatch/?state=unknown")
    assert page.status_code == 200
    assert str(batch.pk) in page.content.decode()
    assert admin_client.get(f"/admin/postmark/queuedbatch/{batch.pk}/change/").status_code == 200
