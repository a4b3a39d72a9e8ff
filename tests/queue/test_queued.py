"""QueuedPostmarkBackend and its task, in one process (the real-worker tests are in
test_workers.py): what the caller gets, what the task sends, which failures it retries, and how
postmark_recover settles batches whose worker is gone."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction
from django.utils import timezone

from postmark import signals
from postmark.backends import QueuedPostmarkBackend, QueuedResult
from postmark.exceptions import BatchError, UnsupportedMessageError
from postmark.message import PostmarkEmailMessage
from postmark.models import Message, QueuedBatch
from postmark.queue.tasks_api import task_backends
from postmark.tasks import send_queued_batch
from tests.support.fake_postmark import FakePostmark, Reply

QUEUED_BACKEND = "postmark.backends.QueuedPostmarkBackend"
# Django 6 ships the Tasks framework; on Django 5.2 the django-tasks backport provides it.
TASKS_MODULE = "django.tasks" if importlib.util.find_spec("django.tasks") else "django_tasks"
DUMMY = f"{TASKS_MODULE}.backends.dummy.DummyBackend"
IMMEDIATE = f"{TASKS_MODULE}.backends.immediate.ImmediateBackend"

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued(settings: Any, fake_postmark: FakePostmark) -> Iterator[Any]:
    """The queued backend on a dummy task backend (tasks are kept, not run); returns it."""
    settings.EMAIL_BACKEND = QUEUED_BACKEND
    settings.TASKS = {"default": {"BACKEND": DUMMY}}
    settings.POSTMARK_MAX_RETRIES = 0
    backend = task_backends["default"]
    backend.clear()
    yield backend
    backend.clear()


@pytest.fixture
def immediate(settings: Any, fake_postmark: FakePostmark) -> None:
    """The queued backend on a task backend that runs each task as it is enqueued."""
    settings.EMAIL_BACKEND = QUEUED_BACKEND
    settings.TASKS = {"default": {"BACKEND": IMMEDIATE}}
    settings.POSTMARK_MAX_RETRIES = 0


def messages(count: int, **options: Any) -> list[PostmarkEmailMessage]:
    return [
        PostmarkEmailMessage(f"Subject {n}", f"Body {n}", to=[f"user{n}@example.com"], **options)
        for n in range(count)
    ]


def send(items: list[Any], *, fail_silently: bool = False, commit: Any = None) -> int:
    connection = mail.get_connection(QUEUED_BACKEND, fail_silently=fail_silently)
    if commit is None:
        return connection.send_messages(items)
    with commit(execute=True):
        return connection.send_messages(items)


def run_tasks(backend: Any) -> list[Any]:
    """Run every task the dummy backend holds, like a worker would; return their values."""
    pending, values = list(backend.results), []
    backend.clear()
    for result in pending:
        values.append(result.task.call(*result.args, **result.kwargs))
    return values


# --- The caller ---------------------------------------------------------------------------------


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


def test_an_enqueue_that_fails_marks_the_batch_failed_and_raises(
    queued: Any, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.POSTMARK_QUEUE_TASK_BACKEND = "no-such-backend"
    items = messages(2)
    with pytest.raises(BatchError, match="Could not enqueue"):
        send(items, commit=django_capture_on_commit_callbacks)
    assert QueuedBatch.objects.get().state == "failed"
    assert [item.postmark.status for item in items] == ["failed", "failed"]


# --- The task -------------------------------------------------------------------------------------


def test_the_task_sends_the_batch_with_the_same_results_and_log_as_the_synchronous_backend(
    immediate: None, fake_postmark: FakePostmark, django_capture_on_commit_callbacks: Any
) -> None:
    seen: list[dict[str, Any]] = []

    def receiver(sender: Any, **kwargs: Any) -> None:
        seen.append({"sender": sender, **kwargs})

    signals.post_send.connect(receiver)
    try:
        send(messages(2, tag="welcome"), commit=django_capture_on_commit_callbacks)
    finally:
        signals.post_send.disconnect(receiver)

    [request] = fake_postmark.requests
    assert request.path == "/email/batch"
    assert [m["To"] for m in request.body] == ["user0@example.com", "user1@example.com"]
    [call] = seen
    assert call["sender"] is QueuedPostmarkBackend
    assert [result.status for result in call["results"]] == ["sent", "sent"]
    assert [m.tag for m in call["messages"]] == ["welcome", "welcome"]
    logged = Message.objects.order_by("to")
    assert [(m.to, m.status, m.tag) for m in logged] == [
        ("user0@example.com", "sent", "welcome"),
        ("user1@example.com", "sent", "welcome"),
    ]
    assert all(m.message_id for m in logged)
    batch = QueuedBatch.objects.get()
    assert batch.state == "sent"
    assert [entry["result"]["message_id"] for entry in batch.messages] == [
        str(m.message_id) for m in logged
    ]


def test_a_task_delivered_twice_sends_the_batch_once(
    queued: Any, fake_postmark: FakePostmark, django_capture_on_commit_callbacks: Any
) -> None:
    send(messages(2), commit=django_capture_on_commit_callbacks)
    [task_result] = queued.results
    first = send_queued_batch.call(*task_result.args)
    second = send_queued_batch.call(*task_result.args)
    assert first["state"] == second["state"] == "sent"
    assert len(fake_postmark.requests) == 1
    assert Message.objects.count() == 2


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
    assert not Message.objects.exists()  # no post_send for an attempt that will be repeated
    [retry] = queued.results
    assert retry.task.run_after >= before + timedelta(seconds=29)
    assert run_tasks(queued)[0]["state"] == "sent"
    assert len(fake_postmark.requests) == 2
    assert Message.objects.filter(status="sent").count() == 2


def test_connection_refused_is_retried_later(
    queued: Any, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    send(messages(1), commit=django_capture_on_commit_callbacks)
    settings.POSTMARK_API_URL = "http://127.0.0.1:9"  # nothing listens on the discard port
    assert run_tasks(queued)[0]["state"] == "pending"
    assert "Could not connect" in QueuedBatch.objects.get().error
    assert len(queued.results) == 1


@pytest.mark.parametrize(
    "reply", [Reply(drop=True), Reply(500, {"ErrorCode": 0, "Message": "Oops"})]
)
def test_a_batch_postmark_may_have_taken_is_marked_unknown_and_never_retried(
    queued: Any, fake_postmark: FakePostmark, reply: Reply, django_capture_on_commit_callbacks: Any
) -> None:
    send(messages(2), commit=django_capture_on_commit_callbacks)
    fake_postmark.script(reply)
    assert run_tasks(queued)[0]["state"] == "unknown"
    assert queued.results == []
    assert len(fake_postmark.requests) == 1
    assert Message.objects.filter(status="unknown").count() == 2


def test_a_refused_batch_fails_without_retry(
    queued: Any, fake_postmark: FakePostmark, django_capture_on_commit_callbacks: Any
) -> None:
    send(messages(2), commit=django_capture_on_commit_callbacks)
    fake_postmark.script(Reply(401, {"ErrorCode": 10, "Message": "Bad token"}))
    assert run_tasks(queued)[0]["state"] == "failed"
    assert queued.results == []
    assert Message.objects.filter(status="failed", error_code=10).count() == 2


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


def test_a_message_suppressed_in_pre_send_is_not_sent_but_logged_by_the_task(
    queued: Any, fake_postmark: FakePostmark, django_capture_on_commit_callbacks: Any
) -> None:
    def drop_user1(sender: Any, messages: list[Any], **kwargs: Any) -> None:
        for message in messages:
            if "user1@example.com" in message.to:
                message.to = [a for a in message.to if a != "user1@example.com"]
                message.suppressed_recipients = ["user1@example.com"]

    signals.pre_send.connect(drop_user1)
    try:
        items = messages(2)
        assert send(items, commit=django_capture_on_commit_callbacks) == 1
    finally:
        signals.pre_send.disconnect(drop_user1)
    assert items[1].postmark.status == "suppressed"
    run_tasks(queued)
    assert [m["To"] for m in fake_postmark.sent_messages] == ["user0@example.com"]
    assert sorted(Message.objects.values_list("status", "to")) == [
        ("sent", "user0@example.com"),
        ("suppressed", "user1@example.com"),
    ]


def test_template_messages_are_queued_and_sent_through_the_template_endpoint(
    queued: Any, fake_postmark: FakePostmark, django_capture_on_commit_callbacks: Any
) -> None:
    items = [
        PostmarkEmailMessage(to=[f"t{n}@example.com"], template_alias="welcome") for n in range(2)
    ]
    send(items + messages(1), commit=django_capture_on_commit_callbacks)
    run_tasks(queued)
    assert sorted(r.path for r in fake_postmark.requests) == ["/email", "/email/batchWithTemplates"]
    assert Message.objects.filter(status="sent").count() == 3


# --- Recovery -------------------------------------------------------------------------------------


def _abandon(state: str, minutes_ago: int = 30) -> QueuedBatch:
    """Make the one batch look as a worker killed long ago would have left it."""
    then = timezone.now() - timedelta(minutes=minutes_ago)
    QueuedBatch.objects.update(state=state, claimed_at=then, created_at=then, enqueued_at=then)
    return QueuedBatch.objects.get()


def test_recover_marks_a_batch_abandoned_while_sending_unknown_and_never_sends_it(
    queued: Any, fake_postmark: FakePostmark, django_capture_on_commit_callbacks: Any
) -> None:
    send(messages(2), commit=django_capture_on_commit_callbacks)
    _abandon("sending")
    _recover()
    batch = QueuedBatch.objects.get()
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


def _recover(*args: str) -> str:
    from io import StringIO

    out = StringIO()
    call_command("postmark_recover", *args, stdout=out)
    return out.getvalue()


def test_the_admin_lists_batches_for_a_person_to_decide_on(
    queued: Any, admin_client: Any, django_capture_on_commit_callbacks: Any
) -> None:
    send(messages(3), commit=django_capture_on_commit_callbacks)
    _abandon("sending")
    _recover()
    batch = QueuedBatch.objects.get()
    page = admin_client.get("/admin/postmark/queuedbatch/?state=unknown")
    assert page.status_code == 200
    assert str(batch.pk) in page.content.decode()
    assert admin_client.get(f"/admin/postmark/queuedbatch/{batch.pk}/change/").status_code == 200


def test_the_log_keeps_the_same_bodies_as_synchronous_sending(
    immediate: None, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.POSTMARK_STORE_BODIES = True
    both = mail.EmailMultiAlternatives("Both", "Plain text", to=["both@example.com"])
    both.attach_alternative("<p>HTML</p>", "text/html")
    html_only = mail.EmailMessage("HTML", "<p>Only</p>", to=["html@example.com"])
    html_only.content_subtype = "html"
    send([both, html_only], commit=django_capture_on_commit_callbacks)
    logged = {m.to: (m.text_body, m.html_body) for m in Message.objects.all()}
    assert logged == {
        "both@example.com": ("Plain text", "<p>HTML</p>"),
        "html@example.com": ("", "<p>Only</p>"),
    }
