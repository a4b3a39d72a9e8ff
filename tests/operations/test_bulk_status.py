"""``manage.py postmark_bulk_status ID`` and ``bulk_status_task``: a Bulk API request followed to
Completed or Failed, its log rows settled, a failure a non-zero exit."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from postmark.exceptions import BulkRequestFailed
from postmark.message import PostmarkEmailMessage
from postmark.models import Message
from postmark.sandbox import Sandbox
from postmark.tasks import bulk_status_task
from tests.support.fake_postmark import FakePostmark, Reply

pytestmark = pytest.mark.django_db

BULK_ID = "5b9f1c84-11a4-4d67-8c57-3c1f3e7f9a01"


def bulk_send(to: list[str]) -> str:
    message = PostmarkEmailMessage("Hi {{n}}", "Hi", "news@example.com", to, bulk=True)
    assert message.send() == 1
    return str(message.postmark.bulk_request_id)  # type: ignore[attr-defined]


def bulk_status(*args: str) -> str:
    out = io.StringIO()
    call_command("postmark_bulk_status", *args, "--interval", "0", stdout=out)
    return out.getvalue()


def status(state: str, percent: int = 0) -> Reply:
    return Reply(
        200,
        {"Id": BULK_ID, "Status": state, "PercentageCompleted": percent, "TotalMessages": 2},
    )


def test_the_command_follows_a_request_to_completion_and_settles_its_rows(
    postmark_sandbox: Sandbox,
) -> None:
    bulk_id = bulk_send(["a@example.com", "b@example.com"])
    Message.objects.filter(to="b@example.com").update(status="delivered")  # a webhook came first
    out = bulk_status(bulk_id)
    assert [line.split(":")[0] for line in out.splitlines()] == [
        "Accepted",
        "Processing",
        "Completed",
    ]
    assert "100% of 2 messages" in out
    statuses = dict(Message.objects.values_list("to", "status"))
    assert statuses == {"a@example.com": "sent", "b@example.com": "delivered"}


def test_a_failed_request_exits_non_zero_and_fails_its_queued_rows(
    fake_postmark: FakePostmark,
) -> None:
    fake_postmark.script(
        Reply(200, {"ID": BULK_ID, "Status": "Accepted"}),
        status("Processing", 50),
        status("Failed"),
    )
    bulk_send(["a@example.com", "b@example.com"])
    with pytest.raises(CommandError, match="failed"):
        bulk_status(BULK_ID)
    assert set(Message.objects.values_list("status", flat=True)) == {"failed"}
    assert [r.path for r in fake_postmark.requests[1:]] == [f"/email/bulk/{BULK_ID}"] * 2


def test_a_request_not_finished_in_time_exits_non_zero_and_changes_nothing(
    fake_postmark: FakePostmark,
) -> None:
    fake_postmark.script(Reply(200, {"ID": BULK_ID, "Status": "Accepted"}), status("Processing"))
    bulk_send(["a@example.com"])
    with pytest.raises(CommandError, match="not finished"):
        bulk_status(BULK_ID, "--timeout", "0")
    assert Message.objects.get().status == "queued"


def test_once_looks_once(fake_postmark: FakePostmark) -> None:
    fake_postmark.script(status("Processing", 40))
    assert bulk_status(BULK_ID, "--once") == "Processing: 40% of 2 messages\n"
    assert len(fake_postmark.requests) == 1


def test_an_unknown_request_is_a_clear_error(postmark_sandbox: Sandbox) -> None:
    with pytest.raises(CommandError, match="not found"):
        bulk_status("no-such-request")


def test_the_task_follows_a_request_too(postmark_sandbox: Sandbox, settings: Any) -> None:
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    bulk_id = bulk_send(["a@example.com"])
    result = bulk_status_task.enqueue(bulk_id, interval=0)
    assert result.return_value["Status"] == "Completed"
    assert Message.objects.get().status == "sent"


def test_the_task_fails_with_the_request(fake_postmark: FakePostmark, settings: Any) -> None:
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    fake_postmark.script(status("Failed"))
    result = bulk_status_task.enqueue(BULK_ID, interval=0)
    assert result.status == "FAILED"
    assert result.errors[0].exception_class is BulkRequestFailed
