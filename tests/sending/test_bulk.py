"""The Bulk API: one message, many recipients (each with their own model, metadata, headers), one
``POST /email/bulk``; "queued" with the request's id; a log row per recipient, linked to its
webhooks by the generated id in its Metadata."""

from __future__ import annotations

import copy
import uuid
from typing import Any

import pytest
from django.core.mail import EmailMessage, get_connection

from postmark import signals
from postmark.exceptions import BulkNotEnabledError, UnsupportedMessageError
from postmark.message import PostmarkEmailMessage
from postmark.models import Bounce, Message
from postmark.sandbox import Sandbox
from postmark.sending.recipients import LINK_KEY
from tests.sandbox.test_with_the_app import wired  # noqa: F401  (a fixture)
from tests.support.fake_postmark import FakePostmark, Reply

pytestmark = pytest.mark.django_db

BULK_ID = "f0e8e4a8-7e55-4bd1-9e35-1f1f4bb1d8a9"


def news(to: list[str], **options: Any) -> PostmarkEmailMessage:
    options.setdefault("bulk", True)
    return PostmarkEmailMessage(
        "News for {{name}}",
        "Hi {{name}}",
        "news@example.com",
        to,
        message_stream="broadcast",
        **options,
    )


def bulk_answer() -> Reply:
    return Reply(200, {"ID": BULK_ID, "Status": "Accepted", "SubmittedAt": "2026-12-01T10:00:00Z"})


def test_one_call_carries_the_content_once_and_each_recipient_with_their_own_data(
    fake_postmark: FakePostmark,
) -> None:
    fake_postmark.script(bulk_answer())
    seen: list[Any] = []

    def record(**kwargs: Any) -> None:
        seen.append(kwargs["results"])

    signals.post_send.connect(record)
    message = news(
        ["ann@example.com", "Bob <bob@example.com>"],
        template_model={"shop": "Acme"},
        merge_data={"ann@example.com": {"name": "Ann"}},
        merge_metadata={"bob@example.com": {"user": 2}},
        merge_headers={"ann@example.com": {"X-Reader": "ann"}},
        metadata={"campaign": "dec"},
    )
    try:
        assert message.send() == 1
    finally:
        signals.post_send.disconnect(record)
    [request] = fake_postmark.requests
    assert request.path == "/email/bulk"
    body = request.body
    assert (body["Subject"], body["TextBody"], body["Metadata"]) == (
        "News for {{name}}",
        "Hi {{name}}",
        {"campaign": "dec"},
    )
    assert "To" not in body and "TemplateModel" not in body
    ann, bob = body["Messages"]
    assert (ann["To"], ann["TemplateModel"]) == ("ann@example.com", {"shop": "Acme", "name": "Ann"})
    assert ann["Headers"] == [{"Name": "X-Reader", "Value": "ann"}]
    assert (bob["To"], bob["TemplateModel"]) == ("Bob <bob@example.com>", {"shop": "Acme"})
    assert bob["Metadata"]["user"] == "2"
    result = message.postmark  # type: ignore[attr-defined]
    assert (result.status, result.bulk_request_id, result.accepted) == ("queued", BULK_ID, True)
    assert seen == [[result]]
    rows = {row.to: row for row in Message.objects.all()}
    assert set(rows) == {"ann@example.com", "Bob <bob@example.com>"}
    for row, sent in ((rows["ann@example.com"], ann), (rows["Bob <bob@example.com>"], bob)):
        assert (row.status, row.bulk_request_id, row.message_id) == ("queued", BULK_ID, None)
        assert str(row.link_id) == sent["Metadata"][LINK_KEY] == row.metadata[LINK_KEY]
    assert rows["Bob <bob@example.com>"].metadata["user"] == "2"


def test_each_recipients_log_row_holds_their_metadata_as_postmark_was_sent_it(
    fake_postmark: FakePostmark,
) -> None:
    fake_postmark.script(bulk_answer())
    message = news(
        ["ann@example.com"], merge_metadata={"ann@example.com": {"user": 7, "team": None}}
    )
    message.send()
    [sent] = fake_postmark.requests[0].body["Messages"]
    row = Message.objects.get()
    assert {k: sent["Metadata"][k] for k in ("user", "team")} == {"user": "7", "team": ""}
    assert row.metadata == sent["Metadata"]


def test_a_setting_sends_a_streams_messages_through_the_bulk_api(
    fake_postmark: FakePostmark, settings: Any
) -> None:
    settings.POSTMARK_BULK_STREAMS = ["broadcast"]
    fake_postmark.script(bulk_answer())
    to = [f"r{n}@example.com" for n in range(120)]  # more than a message's 50 recipients
    assert get_connection().send_messages([news(to, bulk=None)]) == 1
    assert [r.path for r in fake_postmark.requests] == ["/email/bulk"]
    assert len(fake_postmark.requests[0].body["Messages"]) == 120
    opted_out = news(["a@example.com"], bulk=False)
    other_stream = EmailMessage("s", "b", "f@example.com", ["b@example.com"])
    assert get_connection().send_messages([opted_out, other_stream]) == 2
    assert [r.path for r in fake_postmark.requests[1:]] == ["/email/batch"]


def test_each_bulk_message_is_its_own_call(fake_postmark: FakePostmark) -> None:
    fake_postmark.script(bulk_answer(), bulk_answer())
    messages = [news(["a@example.com"]), news(["b@example.com", "c@example.com"])]
    assert get_connection().send_messages(messages) == 2
    # The two calls go at once (POSTMARK_MAX_CONCURRENT_CALLS), so in either order.
    assert sorted(len(r.body["Messages"]) for r in fake_postmark.requests) == [1, 2]
    assert Message.objects.filter(status="queued").count() == 3


def test_an_account_without_the_bulk_api_gets_a_typed_error_saying_whom_to_ask(
    postmark_sandbox: Sandbox,
) -> None:
    postmark_sandbox.bulk.enabled = False
    message = news(["a@example.com", "b@example.com"])
    with pytest.raises(BulkNotEnabledError) as refused:
        message.send()
    assert refused.value.error_code == 14 and "support" in str(refused.value)
    assert message.postmark.status == "failed"  # type: ignore[attr-defined]
    assert list(Message.objects.values_list("status", flat=True)) == ["failed", "failed"]


def test_cc_and_bcc_are_refused_before_any_request(fake_postmark: FakePostmark) -> None:
    with pytest.raises(UnsupportedMessageError) as refused:
        news(["a@example.com"], cc=["c@example.com"]).send()
    assert refused.value.field == "cc" and fake_postmark.requests == []


def test_an_answer_without_a_request_id_is_unknown(fake_postmark: FakePostmark) -> None:
    fake_postmark.script(Reply(200, {"Status": "Accepted"}))
    message = news(["a@example.com"])
    assert get_connection(fail_silently=True).send_messages([message]) == 0
    assert message.postmark.status == "unknown"  # type: ignore[attr-defined]


@pytest.mark.django_db(transaction=True)
def test_a_thousand_recipients_are_one_call_a_thousand_rows_and_their_webhooks_link_back(
    wired: Sandbox,  # noqa: F811
    api_calls: list[str],
) -> None:
    to = [f"reader{n}@example.com" for n in range(999)]
    to.append("hardbounce@bounce-testing.postmarkapp.com")
    message = news(to, merge_data={address: {"name": f"R{n}"} for n, address in enumerate(to)})
    # The rows as send() leaves them, before any webhook: checked inside the block, since the
    # webhooks go out the moment it ends and a Delivery may mark a row before a later check.
    with wired.webhooks.paused():
        assert message.send() == 1
        assert api_calls == ["POST /email/bulk"]
        assert Message.objects.filter(status="queued").count() == 1000
        assert wired.messages[1].subject == "News for R1"

    deliveries = wired.wait_for_webhooks(timeout=120)
    assert len(deliveries) == 1000 and {d.last_status for d in deliveries} == {200}
    sandbox_ids = {m.to[0]: m.message_id for m in wired.messages}
    rows = list(Message.objects.all())
    assert all(str(row.message_id) == sandbox_ids[row.to] for row in rows)
    assert Message.objects.filter(status="delivered").count() == 999
    bounced = Message.objects.get(status="bounced")
    assert Bounce.objects.get().message == bounced
    assert uuid.UUID(str(bounced.link_id))


def test_a_copy_of_a_sent_bulk_message_sent_on_its_own_logs_its_own_row_and_leaves_theirs(
    fake_postmark: FakePostmark,
) -> None:
    # What the send path keeps about a message is its own: a copy (which copies the message's
    # attributes) starts afresh rather than writing over the original's recipients' rows.
    fake_postmark.script(bulk_answer())
    message = news(["ann@example.com", "bob@example.com"])
    message.send()
    again = copy.copy(message)
    again.bulk = False
    again.to = ["ann@example.com"]
    assert again.send() == 1
    rows = list(Message.objects.order_by("created_at", "pk"))
    assert [(row.to, row.status) for row in rows] == [
        ("ann@example.com", "queued"),
        ("bob@example.com", "queued"),
        ("ann@example.com", "sent"),
    ]
    assert rows[2].link_id not in (rows[0].link_id, rows[1].link_id)
    assert rows[2].bulk_request_id == ""
