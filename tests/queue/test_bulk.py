"""Bulk API messages through the queue: the caller stores one batch row per bulk message, the
worker sends it as ``PostmarkBackend`` would (one ``POST /email/bulk``, "queued" with the
request's id, a log row per recipient linked to its webhooks by the generated id)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone

from postmark import signals
from postmark.backends import QueuedResult
from postmark.exceptions import BulkNotEnabledError, UnsupportedMessageError
from postmark.models import Bounce, Message, QueuedBatch
from postmark.sandbox import Sandbox
from postmark.sending.recipients import LINK_KEY, state_of
from tests.sandbox.test_with_the_app import wired  # noqa: F401  (a fixture)
from tests.sending.test_bulk import news
from tests.support.fake_postmark import FakePostmark, Reply
from tests.support.queued_sending import QUEUED_BACKEND, run_tasks, send

pytestmark = pytest.mark.django_db

BULK_ID = "0b5c7a4e-93f3-4c8e-8f0a-6d1f7b2c9e11"


@pytest.fixture
def postmark_email_backend() -> str:
    """The sandbox's app sends with the queued backend."""
    return QUEUED_BACKEND


@pytest.fixture
def commit(django_capture_on_commit_callbacks: Any) -> Any:
    """Runs the on-commit enqueue, as the end of the caller's transaction would."""
    return django_capture_on_commit_callbacks


class Recorder:
    """The ``post_send`` calls, as the worker sends them."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def __call__(self, sender: Any, **kwargs: Any) -> None:
        self.calls.append({"sender": sender, **kwargs})


@pytest.fixture
def post_send() -> Iterator[Recorder]:
    recorder = Recorder()
    signals.post_send.connect(recorder)
    yield recorder
    signals.post_send.disconnect(recorder)


@pytest.mark.django_db(transaction=True)
def test_a_bulk_stream_is_queued_sent_as_one_call_and_its_webhooks_link_to_each_row(
    wired: Sandbox,  # noqa: F811
    kept_tasks: Any,
    settings: Any,
    api_calls: list[str],
) -> None:
    settings.POSTMARK_BULK_STREAMS = ["broadcast"]
    to = [f"reader{n}@example.com" for n in range(299)]
    to.append("hardbounce@bounce-testing.postmarkapp.com")
    message = news(to, bulk=None, merge_data={a: {"name": f"R{n}"} for n, a in enumerate(to)})
    assert send([message]) == 1
    assert isinstance(message.postmark, QueuedResult)  # type: ignore[attr-defined]
    assert api_calls == [] and wired.messages == []
    assert QueuedBatch.objects.get().state == "pending"

    with wired.webhooks.paused():  # the rows as the worker leaves them, before any webhook
        [outcome] = run_tasks(kept_tasks)
        assert outcome["state"] == "sent"
        assert api_calls == ["POST /email/bulk"]
        [entry] = QueuedBatch.objects.get().messages
        assert entry["result"]["status"] == "queued"
        bulk_id = entry["result"]["bulk_request_id"]
        assert bulk_id
        rows = Message.objects.all()
        assert rows.count() == 300
        assert set(rows.values_list("status", "bulk_request_id")) == {("queued", bulk_id)}
        assert wired.messages[1].subject == "News for R1"

    deliveries = wired.wait_for_webhooks(timeout=120)
    assert len(deliveries) == 300 and {d.last_status for d in deliveries} == {200}
    sandbox_ids = {m.to[0]: m.message_id for m in wired.messages}
    assert all(str(row.message_id) == sandbox_ids[row.to] for row in Message.objects.all())
    assert Message.objects.filter(status="delivered").count() == 299
    bounced = Message.objects.get(status="bounced")
    assert Bounce.objects.get().message == bounced
    assert str(bounced.link_id) == bounced.metadata[LINK_KEY]


def test_each_queued_recipient_gets_their_own_model_metadata_and_headers(
    queued: Any, fake_postmark: FakePostmark, post_send: Recorder, commit: Any
) -> None:
    fake_postmark.script(
        Reply(200, {"ID": BULK_ID, "Status": "Accepted", "SubmittedAt": "2026-12-01T10:00:00Z"})
    )
    message = news(
        ["ann@example.com", "Bob <bob@example.com>"],
        template_model={"shop": "Acme"},
        merge_data={"ann@example.com": {"name": "Ann"}, "bob@example.com": {"name": "Bob"}},
        merge_metadata={"bob@example.com": {"user": 2}},
        merge_headers={"ann@example.com": {"X-Reader": "ann"}},
        metadata={"campaign": "dec"},
    )
    assert send([message], commit=commit) == 1
    assert fake_postmark.requests == []
    run_tasks(queued)

    [request] = fake_postmark.requests
    assert request.path == "/email/bulk"
    ann, bob = request.body["Messages"]
    assert (ann["To"], ann["TemplateModel"]) == ("ann@example.com", {"shop": "Acme", "name": "Ann"})
    assert (bob["To"], bob["TemplateModel"]) == (
        "Bob <bob@example.com>",
        {"shop": "Acme", "name": "Bob"},
    )
    assert ann["Headers"] == [{"Name": "X-Reader", "Value": "ann"}] and "Headers" not in bob
    assert bob["Metadata"]["user"] == "2" and "user" not in ann["Metadata"]

    [call] = post_send.calls
    [result] = call["results"]
    assert (result.status, result.bulk_request_id, result.accepted) == ("queued", BULK_ID, True)
    [entry] = QueuedBatch.objects.get().messages
    assert entry["result"]["bulk_request_id"] == BULK_ID
    rows = {row.to: row for row in Message.objects.all()}
    assert set(rows) == {"ann@example.com", "Bob <bob@example.com>"}
    for row, sent in ((rows["ann@example.com"], ann), (rows["Bob <bob@example.com>"], bob)):
        assert (row.status, row.bulk_request_id, row.message_id) == ("queued", BULK_ID, None)
        assert str(row.link_id) == sent["Metadata"][LINK_KEY] == row.metadata[LINK_KEY]
        assert row.metadata["campaign"] == "dec"
    assert rows["Bob <bob@example.com>"].metadata["user"] == "2"


def test_an_account_without_the_bulk_api_fails_the_batch_with_the_typed_error_and_no_retry(
    postmark_sandbox: Sandbox, kept_tasks: Any, post_send: Recorder, commit: Any
) -> None:
    postmark_sandbox.bulk.enabled = False
    send([news(["a@example.com", "b@example.com"])], commit=commit)
    [outcome] = run_tasks(kept_tasks)
    assert outcome["state"] == "failed"
    assert kept_tasks.results == []  # no retry is enqueued
    batch = QueuedBatch.objects.get()
    assert (batch.state, batch.attempts) == ("failed", 1)
    assert "support" in batch.error
    [entry] = batch.messages
    assert (entry["result"]["status"], entry["result"]["error_code"]) == ("failed", 14)
    [result] = post_send.calls[0]["results"]
    assert isinstance(result.error, BulkNotEnabledError) and result.error.error_code == 14
    assert list(Message.objects.values_list("status", flat=True)) == ["failed", "failed"]


@pytest.mark.parametrize("bulk", [True, False], ids=["bulk", "not-bulk"])
def test_a_message_with_an_unlisted_server_token_is_refused_in_the_caller(
    queued: Any, fake_postmark: FakePostmark, commit: Any, bulk: bool
) -> None:
    with pytest.raises(UnsupportedMessageError) as refused:
        send([news(["a@example.com"], bulk=bulk, server_token="other-server")], commit=commit)
    assert refused.value.field == "server_token"
    assert "server_token" in str(refused.value) and "PostmarkBackend" in str(refused.value)
    assert "POSTMARK_SERVER_TOKENS" in str(refused.value)
    assert not QueuedBatch.objects.exists() and queued.results == []


def test_a_bulk_batch_abandoned_while_sending_is_unknown_for_each_recipient_and_shown_in_the_admin(
    queued: Any, fake_postmark: FakePostmark, admin_client: Any, commit: Any
) -> None:
    message = news(["a@example.com", "b@example.com"], merge_metadata={"b@example.com": {"n": 1}})
    send([message], commit=commit)
    then = timezone.now() - timedelta(minutes=30)
    QueuedBatch.objects.update(state="sending", claimed_at=then, created_at=then)
    call_command("postmark_recover")
    batch = QueuedBatch.objects.get()
    assert batch.state == "unknown"
    rows = {row.to: row for row in Message.objects.all()}
    assert {row.status for row in rows.values()} == {"unknown"}
    link_ids = state_of(message).link_ids
    assert {to: str(row.link_id) for to, row in rows.items()} == link_ids
    assert all(uuid.UUID(row.metadata[LINK_KEY]) for row in rows.values())
    assert rows["b@example.com"].metadata["n"] == "1"
    run_tasks(queued)  # the original task, delivered late, sends nothing
    assert fake_postmark.requests == []
    assert admin_client.get(f"/admin/postmark/queuedbatch/{batch.pk}/change/").status_code == 200
