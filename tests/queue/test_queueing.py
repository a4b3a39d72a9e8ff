"""What the caller of QueuedPostmarkBackend gets: a queued result per message at once, batches
of at most 500 enqueued only once its transaction commits, refusals in the caller."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import transaction

from postmark.backends import QueuedResult
from postmark.exceptions import UnsupportedMessageError
from postmark.models import QueuedBatch
from tests.support.fake_postmark import FakePostmark
from tests.support.queued_sending import messages, send

pytestmark = pytest.mark.django_db


def test_send_returns_at_once_with_a_queued_result_per_message_and_sends_nothing(
    queued: Any, fake_postmark: FakePostmark, django_capture_on_commit_callbacks: Any
) -> None:
    items = messages(3)
    assert send(items, commit=django_capture_on_commit_callbacks) == 3
    assert fake_postmark.requests == []
    batch = QueuedBatch.objects.get()
    assert batch.state == "pending"
    [task_result] = queued.results
    assert task_result.args == [str(batch.pk)]
    json.dumps(task_result.args)  # the task's arguments must survive any queue's serialiser
    for item in items:
        assert isinstance(item.postmark, QueuedResult)
        assert item.postmark.status == "queued"
        assert item.postmark.task_id == task_result.id
        assert item.postmark.batch_id == str(batch.pk)


def test_1001_messages_become_three_tasks_of_at_most_500(
    queued: Any, django_capture_on_commit_callbacks: Any
) -> None:
    assert send(messages(1001), commit=django_capture_on_commit_callbacks) == 1001
    sizes = sorted(len(batch.messages) for batch in QueuedBatch.objects.all())
    assert sizes == [1, 500, 500]
    assert len(queued.results) == 3


def test_a_message_postmark_would_refuse_fails_in_the_caller_and_nothing_is_queued(
    queued: Any, django_capture_on_commit_callbacks: Any
) -> None:
    items = messages(2)
    items[1].track_links = "Sometimes"
    with pytest.raises(UnsupportedMessageError, match="track_links"):
        send(items, commit=django_capture_on_commit_callbacks)
    assert not QueuedBatch.objects.exists()
    assert queued.results == []


def test_with_fail_silently_a_refused_message_fails_and_the_others_are_queued(
    queued: Any, django_capture_on_commit_callbacks: Any
) -> None:
    items = messages(2)
    items[1].track_links = "Sometimes"
    sent = send(items, fail_silently=True, commit=django_capture_on_commit_callbacks)
    assert sent == 1
    assert items[0].postmark.status == "queued"
    assert items[1].postmark.status == "failed"
    [entry_ok, entry_refused] = QueuedBatch.objects.get().messages
    assert entry_ok["payload"]["To"] == "user0@example.com"
    assert entry_refused["payload"] is None
    assert entry_refused["result"]["status"] == "failed"


def test_nothing_is_enqueued_before_the_callers_transaction_commits(
    queued: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        items = messages(1)
        send(items)
        assert queued.results == []
        assert items[0].postmark.task_id is None
    assert len(callbacks) == 1
    callbacks[0]()
    assert items[0].postmark.task_id == queued.results[0].id


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_request_queues_and_sends_nothing(queued: Any) -> None:
    with pytest.raises(RuntimeError), transaction.atomic():
        send(messages(2))
        raise RuntimeError("the view failed")
    assert not QueuedBatch.objects.exists()
    assert queued.results == []


def test_an_enqueue_that_fails_leaves_the_batch_pending_for_recovery_and_raises_nothing(
    queued: Any, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
) -> None:
    """tests/queue/test_commit_hooks.py has the generated cases."""

    def broken_enqueue(*args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("the broker is down")

    monkeypatch.setattr(queued, "enqueue", broken_enqueue)
    items = messages(2)
    assert send(items, commit=django_capture_on_commit_callbacks) == 2
    assert QueuedBatch.objects.get().state == "pending"
    assert [item.postmark.status for item in items] == ["queued", "queued"]
