"""Settling queued messages: each carries the id of its log row on every attempt, and a batch
whose outcome is unknown (its answer lost, or its worker gone) keeps each message's request on
its row, so that settling finds it, or sends it once more, exactly as for PostmarkBackend."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone

from postmark.models import Message, QueuedBatch
from postmark.queue.tasks_api import task_backends
from postmark.sandbox import Sandbox
from postmark.sending.recipients import LINK_KEY
from tests.support.fake_postmark import FakePostmark, Reply
from tests.support.queued_sending import DUMMY, QUEUED_BACKEND, messages, run_tasks, send
from tests.support.settling import later, run_every_task

pytestmark = pytest.mark.django_db


@pytest.fixture
def postmark_email_backend() -> str:
    return QUEUED_BACKEND  # the sandbox's fixture sends with it


@pytest.fixture
def worker(postmark_sandbox: Sandbox, settings: Any) -> Any:
    """The queued backend sending to the sandbox, on a task backend whose tasks a test runs."""
    settings.TASKS = {"default": {"BACKEND": DUMMY}}
    settings.POSTMARK_MAX_RETRIES = 0
    settings.POSTMARK_SETTLE_AFTER = 0
    settings.POSTMARK_SETTLE_NOT_FOUND_AFTER = 3600
    backend = task_backends["default"]
    backend.clear()
    yield backend
    backend.clear()


def test_a_queued_message_carries_the_id_of_its_row_on_every_attempt(
    fake_postmark: FakePostmark, queued: Any, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.POSTMARK_QUEUE_RETRY_DELAY = 0
    fake_postmark.script(Reply(503, {"Message": "later"}))  # certainly not taken: tried again
    send(messages(1), commit=django_capture_on_commit_callbacks)
    row = Message.objects.get()
    assert row.status == "queued" and row.metadata[LINK_KEY] == str(row.link_id)
    run_every_task(queued, django_capture_on_commit_callbacks)
    first, second = fake_postmark.sent_messages
    assert first["Metadata"][LINK_KEY] == second["Metadata"][LINK_KEY] == str(row.link_id)
    assert Message.objects.get().status == "sent"


def test_the_worker_schedules_the_settling_of_a_batch_whose_answer_was_lost(
    postmark_sandbox: Sandbox, worker: Any, django_capture_on_commit_callbacks: Any
) -> None:
    postmark_sandbox.faults.plan(["accept-drop"])
    send(messages(2), commit=django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        run_tasks(worker)  # the batch: its answer lost
    assert QueuedBatch.objects.get().state == "unknown"
    entries = {e["envelope"]["log_id"]: e["payload"] for e in QueuedBatch.objects.get().messages}
    for row in Message.objects.all():
        assert row.status == "unknown"
        assert row.payload and row.metadata[LINK_KEY] == str(row.link_id)
        assert str(row.link_id) in entries
    [settling] = worker.results
    assert settling.task.module_path == "postmark.tasks.settle_task"
    run_every_task(worker, django_capture_on_commit_callbacks)
    rows = Message.objects.all()
    assert {(row.status, row.settlement) for row in rows} == {("sent", "found")}
    copies = postmark_sandbox.copies(LINK_KEY)
    assert [copies[str(row.link_id)] for row in rows] == [1, 1]


def test_a_queued_message_never_taken_is_resent_once_with_its_rows_id(
    postmark_sandbox: Sandbox, worker: Any, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.POSTMARK_SETTLE_NOT_FOUND = "resend"
    postmark_sandbox.faults.plan(["500"])
    send(messages(1), commit=django_capture_on_commit_callbacks)
    run_every_task(worker, django_capture_on_commit_callbacks)
    row = Message.objects.get()
    assert row.status == "unknown" and postmark_sandbox.messages == []
    later()
    call_command("postmark_settle", stdout=None)
    row.refresh_from_db()
    [taken] = postmark_sandbox.messages
    assert (row.status, row.settlement, str(row.message_id)) == ("sent", "resent", taken.message_id)
    assert taken.metadata[LINK_KEY] == str(row.link_id)


def test_a_batch_whose_worker_died_is_settled_from_the_requests_its_rows_keep(
    postmark_sandbox: Sandbox, worker: Any, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.POSTMARK_SETTLE_NOT_FOUND = "resend"
    send(messages(2), commit=django_capture_on_commit_callbacks)
    worker.clear()  # the worker claimed it and died: nothing reached Postmark
    then = timezone.now() - timedelta(minutes=30)
    QueuedBatch.objects.update(state="sending", claimed_at=then, created_at=then)
    with django_capture_on_commit_callbacks(execute=True):
        call_command("postmark_recover", stdout=None)
    rows = list(Message.objects.all())
    assert {row.status for row in rows} == {"unknown"} and all(row.payload for row in rows)
    later()
    run_every_task(worker, django_capture_on_commit_callbacks)
    copies = postmark_sandbox.copies(LINK_KEY)
    assert [copies[str(row.link_id)] for row in rows] == [1, 1]
    assert set(Message.objects.values_list("settlement", flat=True)) == {"resent"}
