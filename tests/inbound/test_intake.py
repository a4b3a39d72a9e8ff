"""Kept, once: every inbound message the webhook takes becomes one ``InboundMessage``, keyed so
that a redelivery changes nothing, and the webhook answers as soon as it is stored."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django_tasks_db.models import DBTaskResult

from postmark import signals
from postmark.models import InboundMessage, WebhookEvent
from tests.inbound.conftest import Deliver, Mailboxes, inbound, record, run_kept
from tests.support.webhook_helpers import INBOUND_URL, failing_receiver, post

pytestmark = pytest.mark.django_db

Status = InboundMessage.Status


def test_a_message_is_kept_with_what_lists_and_searches_need(
    deliver: Deliver, routes: Any, kept_tasks: Any
) -> None:
    attachments = [
        {"Name": "../../etc/passwd", "Content": base64.b64encode(b"x" * 10).decode()},
        {"Name": "report.pdf", "Content": base64.b64encode(b"y" * 5).decode()},
    ]
    payload = inbound(Attachments=attachments, Subject="Help", MailboxHash="reply-7")

    response = deliver(payload)

    assert response.status_code == 200
    row = record(payload)
    assert row.status == Status.RECEIVED
    assert row.webhook_event == WebhookEvent.objects.get()
    assert (row.from_email, row.subject, row.mailbox_hash) == (
        "support@postmarkapp.com",
        "Help",
        "reply-7",
    )
    assert "yourhash+SampleHash@inbound.postmarkapp.com" in row.to
    assert row.original_recipient == "yourhash+SampleHash@inbound.postmarkapp.com"
    assert (row.attachment_count, row.attachment_bytes) == (2, 15)
    assert row.attachment_names == ["passwd", "report.pdf"]  # never a path
    assert row.attempts == 0 and row.received_at is not None and row.processed_at is None


def test_the_content_is_stored_once_on_the_webhook_event_not_copied_to_the_record(
    deliver: Deliver, routes: Any, kept_tasks: Any
) -> None:
    big = base64.b64encode(b"z" * 300_000).decode()
    payload = inbound(Attachments=[{"Name": "big.bin", "Content": big}], RawEmail="R" * 100_000)

    deliver(payload)

    row = InboundMessage.objects.filter(pk=record(payload).pk).values().get()
    stored = sum(len(str(value)) for value in row.values())
    assert stored < 5_000  # the body (500 KB) is on the WebhookEvent only
    assert len(WebhookEvent.objects.get().body) > 500_000


def test_a_redelivery_of_the_same_body_changes_nothing(
    deliver: Deliver, routes: Any, kept_tasks: Any
) -> None:
    payload = inbound()
    deliver(payload)
    before = list(InboundMessage.objects.values())

    response = deliver(payload)

    assert response.status_code == 200
    assert list(InboundMessage.objects.values()) == before
    assert WebhookEvent.objects.count() == 1


def test_a_redelivery_with_another_body_and_the_same_message_id_changes_nothing(
    deliver: Deliver, routes: Any, kept_tasks: Any, mailboxes: Mailboxes
) -> None:
    payload = inbound(Subject="First")
    deliver(payload)
    run_kept(kept_tasks)
    before = list(InboundMessage.objects.values())

    response = deliver({**payload, "Subject": "Second", "Date": "another date"})
    run_kept(kept_tasks)

    assert response.status_code == 200
    assert list(InboundMessage.objects.values()) == before  # the same row, still processed
    assert mailboxes.names() == ["everything"]  # processed once
    assert WebhookEvent.objects.count() == 2  # each body is kept as the webhook got it


def test_the_key_is_one_unique_insert_never_a_read_before_the_write(
    client: Client, routes: Any, kept_tasks: Any
) -> None:
    table = connection.ops.quote_name(InboundMessage._meta.db_table)
    with CaptureQueriesContext(connection) as queries:
        post(client, inbound(), INBOUND_URL)
    touching = [q["sql"] for q in queries if table in q["sql"]]
    assert len(touching) == 1 and touching[0].startswith("INSERT")


def test_mail_without_a_message_id_is_kept_by_its_body(
    deliver: Deliver, routes: Any, kept_tasks: Any
) -> None:
    first, second = inbound(MessageID=""), inbound(MessageID="", Subject="Other")
    for payload in (first, second, first):
        deliver(payload)
    keys = set(InboundMessage.objects.values_list("message_id", flat=True))
    sha = {e.body_sha256 for e in WebhookEvent.objects.all()}
    assert keys == {f"sha256:{digest}" for digest in sha} and len(keys) == 2


def test_a_message_id_too_long_for_the_column_is_kept_by_its_hash(
    deliver: Deliver, routes: Any, kept_tasks: Any
) -> None:
    long_a, long_b = "a" * 150 + "1", "a" * 150 + "2"  # the same first 100 characters
    deliver(inbound(MessageID=long_a))
    deliver(inbound(MessageID=long_b))
    deliver(inbound(MessageID=long_a, Subject="redelivered"))
    assert set(InboundMessage.objects.values_list("message_id", flat=True)) == {
        "sha256:" + hashlib.sha256(key.encode()).hexdigest() for key in (long_a, long_b)
    }


def test_without_routes_mail_is_unrouted_at_once_and_no_task_is_made(
    deliver: Deliver, kept_tasks: Any
) -> None:
    payload = inbound()
    deliver(payload)
    row = record(payload)
    assert row.status == Status.UNROUTED and row.processed_at is not None
    assert list(kept_tasks.results) == []


def test_the_setting_off_keeps_nothing(deliver: Deliver, settings: Any, routes: Any) -> None:
    settings.POSTMARK_INBOUND_STORE = False
    assert deliver(inbound()).status_code == 200
    assert not InboundMessage.objects.exists() and WebhookEvent.objects.count() == 1


def test_the_webhook_answers_once_the_record_is_stored_whatever_the_mailbox_costs(
    deliver: Deliver, kept_tasks: Any, mailboxes: Mailboxes
) -> None:
    """On a task queue, the webhook's work ends with the record stored and the task enqueued
    (its commit hooks included): a slow, failing mailbox costs the webhook nothing."""

    def slow_and_broken(mail: Any) -> None:
        time.sleep(1.0)
        raise RuntimeError("the mailbox is broken")

    mailboxes.actions["everything"] = slow_and_broken
    payload = inbound()

    start = time.monotonic()
    response = deliver(payload)
    elapsed = time.monotonic() - start

    assert response.status_code == 200 and elapsed < 0.5
    assert record(payload).status == Status.RECEIVED and mailboxes.calls == []
    [value] = run_kept(kept_tasks)  # the worker's side
    assert value["status"] == "failed" and record(payload).status == Status.FAILED


def test_another_receiver_failing_keeps_no_record_and_a_replay_keeps_it(
    client: Client, routes: Any, kept_tasks: Any
) -> None:
    payload = inbound()
    with failing_receiver(signals.inbound_received, "broken") as mended:
        assert post(client, payload, INBOUND_URL).status_code == 500
        assert not InboundMessage.objects.exists()  # rolled back with the receivers' work
        mended.append(1)
        assert post(client, payload, INBOUND_URL).status_code == 200  # Postmark's retry
    assert record(payload).status == Status.RECEIVED


def test_the_stored_webhook_event_body_is_the_message(
    deliver: Deliver, routes: Any, kept_tasks: Any
) -> None:
    payload = inbound()
    deliver(payload)
    assert json.loads(record(payload).webhook_event.body)["MessageID"] == payload["MessageID"]


# --- A task queue in the site's own database ----------------------------------------------------


@pytest.fixture
def database_queue(settings: Any) -> None:
    """django-tasks-db's queue: a table of the database the records are in."""
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}


def test_on_a_queue_in_the_same_database_the_task_is_committed_with_the_record(
    client: Client, routes: Any, database_queue: None, commit: Any
) -> None:
    payload = inbound()

    with commit() as after_commit:
        assert post(client, payload, INBOUND_URL).status_code == 200

    assert after_commit == []  # nothing left for a second transaction: one commit holds both
    [task] = DBTaskResult.objects.all()
    assert task.task_path == "postmark.tasks.process_inbound_message"
    assert task.args_kwargs["args"] == [record(payload).message_id]


def test_on_a_queue_in_the_same_database_a_failing_webhook_leaves_neither_record_nor_task(
    client: Client, routes: Any, database_queue: None
) -> None:
    with failing_receiver(signals.inbound_received, "broken"):
        assert post(client, inbound(), INBOUND_URL).status_code == 500

    assert not InboundMessage.objects.exists() and not DBTaskResult.objects.exists()


def test_a_queue_elsewhere_is_given_the_task_once_the_record_is_committed(
    client: Client, routes: Any, kept_tasks: Any, commit: Any
) -> None:
    payload = inbound()

    with commit() as after_commit:
        assert post(client, payload, INBOUND_URL).status_code == 200
        assert list(kept_tasks.results) == []  # not while the record may still roll back

    for callback in after_commit:
        callback()
    [task] = kept_tasks.results
    assert task.args == [record(payload).message_id]
