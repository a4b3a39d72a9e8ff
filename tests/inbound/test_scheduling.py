"""``manage.py postmark_inbound``: mail whose worker died is taken back, due retries and lost
tasks run, failed mail is reprocessed and unrouted mail rerouted on request; and the task
backend that cannot defer a retry leaves it to the command."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from postmark.models import InboundMessage
from tests.inbound.conftest import Deliver, Mailboxes, inbound, record, run_kept

pytestmark = pytest.mark.django_db

Status = InboundMessage.Status
LONG_AGO = timezone.now() - timedelta(hours=1)


def command(*args: str) -> str:
    out = io.StringIO()
    call_command("postmark_inbound", *args, stdout=out)
    return out.getvalue()


def test_mail_whose_worker_died_is_taken_back_and_processed_once(
    deliver: Deliver, kept_tasks: Any, mailboxes: Mailboxes
) -> None:
    payload = inbound()
    deliver(payload)
    kept_tasks.clear()
    # What a worker killed inside the mailbox leaves: claimed, nothing of it committed.
    InboundMessage.objects.update(status=Status.ROUTED, claimed_at=LONG_AGO, attempts=1)

    output = command("--here")

    assert "1 message(s) taken back" in output and "1 processed" in output
    row = record(payload)
    assert row.status == Status.PROCESSED and row.attempts == 2
    assert mailboxes.names() == ["everything"]


def test_mail_routed_recently_is_left_to_its_worker(
    deliver: Deliver, kept_tasks: Any, mailboxes: Mailboxes
) -> None:
    payload = inbound()
    deliver(payload)
    kept_tasks.clear()
    InboundMessage.objects.update(status=Status.ROUTED, claimed_at=timezone.now())

    assert "0 message(s) taken back" in command("--here")
    assert record(payload).status == Status.ROUTED and mailboxes.calls == []


def test_received_mail_whose_task_was_lost_is_enqueued_again(
    deliver: Deliver, kept_tasks: Any, mailboxes: Mailboxes
) -> None:
    old, new = inbound(), inbound()
    deliver(old)
    deliver(new)
    kept_tasks.clear()  # the queue lost both tasks
    InboundMessage.objects.filter(message_id=old["MessageID"]).update(received_at=LONG_AGO)

    assert "1 enqueued" in command()
    run_kept(kept_tasks)

    assert record(old).status == Status.PROCESSED and record(new).status == Status.RECEIVED


def test_a_retry_the_task_backend_cannot_defer_is_run_by_the_command_when_due(
    deliver: Deliver, immediate: None, mailboxes: Mailboxes
) -> None:
    mailboxes.failing["everything"] = RuntimeError("down")
    payload = inbound()
    deliver(payload)
    assert mailboxes.names() == ["everything"]  # once: no retry loop inside the request
    row = record(payload)
    assert row.status == Status.FAILED and row.next_attempt_at is not None
    assert "0 enqueued" in command()  # not due yet
    del mailboxes.failing["everything"]
    InboundMessage.objects.update(next_attempt_at=timezone.now())

    assert "1 enqueued" in command()  # the immediate backend runs it at once

    assert record(payload).status == Status.PROCESSED


def test_failed_mail_out_of_retries_waits_for_reprocess_failed(
    deliver: Deliver, immediate: None, mailboxes: Mailboxes, settings: Any
) -> None:
    settings.POSTMARK_INBOUND_MAX_ATTEMPTS = 1
    mailboxes.failing["everything"] = RuntimeError("bug")
    payload = inbound()
    deliver(payload)
    del mailboxes.failing["everything"]
    assert "0 enqueued" in command() and record(payload).status == Status.FAILED

    output = command("--reprocess-failed", "--here")

    assert "1 failed message(s) reprocessed" in output
    assert record(payload).status == Status.PROCESSED


def test_unrouted_mail_is_routed_again_on_request(
    deliver: Deliver, immediate: None, mailboxes: Mailboxes, settings: Any
) -> None:
    settings.POSTMARK_INBOUND_ROUTES = [{"mailbox": "support", "subject": "^never$"}]
    payload = inbound()
    deliver(payload)
    settings.POSTMARK_INBOUND_ROUTES = [{"mailbox": "support"}]

    assert "1 unrouted message(s) routed again" in command("--reroute-unrouted", "--here")

    assert record(payload).status == Status.PROCESSED and mailboxes.names() == ["support"]


def test_a_negative_stale_after_is_refused() -> None:
    with pytest.raises(CommandError, match="--stale-after"):
        command("--stale-after", "-1")
