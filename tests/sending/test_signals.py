"""pre_send and post_send: once per API call, able to change messages and to see every outcome."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.mail import EmailMessage, get_connection

from postmark import signals
from postmark.backends import PostmarkBackend
from postmark.exceptions import UnauthorizedError
from postmark.models import Message
from tests.support.fake_postmark import FakePostmark, Reply

pytestmark = pytest.mark.django_db


def messages(*names: str) -> list[EmailMessage]:
    return [EmailMessage("s", "b", "from@example.com", [f"{n}@example.com"]) for n in names]


def test_each_signal_is_sent_once_per_api_call_with_its_messages(
    fake_postmark: FakePostmark,
    connect,  # type: ignore[no-untyped-def]
    settings,  # type: ignore[no-untyped-def]
) -> None:
    settings.POSTMARK_BATCH_SIZE = 2
    pre, post = connect(signals.pre_send), connect(signals.post_send)
    batch = messages("a", "b", "c", "d", "e")
    backend = get_connection()
    backend.send_messages(batch)
    assert [call["messages"] for call in pre] == [batch[0:2], batch[2:4], batch[4:]]
    # post_send follows each call as it ends; with calls at once, that order is the network's.
    assert sorted(
        (call["messages"] for call in post), key=lambda messages: batch.index(messages[0])
    ) == [
        batch[0:2],
        batch[2:4],
        batch[4:],
    ]
    assert all(call["sender"] is PostmarkBackend and call["backend"] is backend for call in pre)
    assert [r.status for call in post for r in call["results"]] == ["sent"] * 5
    assert all(call["exception"] is None for call in post)


def test_receiver_dropping_every_recipient_suppresses_the_message(
    fake_postmark: FakePostmark,
    connect,  # type: ignore[no-untyped-def]
) -> None:
    def drop_blocked(messages: list[EmailMessage], **kwargs: Any) -> None:
        for message in messages:
            message.to = [a for a in message.to if not a.startswith("blocked")]

    connect(signals.pre_send, drop_blocked)
    post = connect(signals.post_send)
    batch = messages("ok", "blocked", "fine")
    assert get_connection().send_messages(batch) == 2
    assert [m["To"] for m in fake_postmark.sent_messages] == ["ok@example.com", "fine@example.com"]
    assert batch[1].postmark.status == "suppressed"  # type: ignore[attr-defined]
    assert "suppressed" in batch[1].postmark.message  # type: ignore[attr-defined]
    # post_send sees the suppressed message too, and so does the log.
    assert [r.status for r in post[0]["results"]] == ["sent", "suppressed", "sent"]
    assert Message.objects.get(to="").status == "suppressed"


def test_receiver_dropping_some_recipients_sends_to_the_rest(
    fake_postmark: FakePostmark,
    connect,  # type: ignore[no-untyped-def]
) -> None:
    def drop(messages: list[EmailMessage], **kwargs: Any) -> None:
        messages[0].cc = []

    connect(signals.pre_send, drop)
    message = EmailMessage("s", "b", "f@example.com", ["a@example.com"], cc=["gone@example.com"])
    assert message.send() == 1
    assert "Cc" not in fake_postmark.sent_messages[0]


def test_all_suppressed_makes_no_request_and_does_not_raise(
    fake_postmark: FakePostmark,
    connect,  # type: ignore[no-untyped-def]
) -> None:
    def drop_all(messages: list[EmailMessage], **kwargs: Any) -> None:
        for message in messages:
            message.to = []

    connect(signals.pre_send, drop_all)
    assert get_connection().send_messages(messages("a", "b")) == 0
    assert fake_postmark.requests == []


def test_receiver_may_change_options_and_headers(
    fake_postmark: FakePostmark,
    connect,  # type: ignore[no-untyped-def]
) -> None:
    def stamp(messages: list[EmailMessage], **kwargs: Any) -> None:
        for message in messages:
            message.tag = "stamped"  # type: ignore[attr-defined]
            message.extra_headers["X-Stamp"] = "yes"

    connect(signals.pre_send, stamp)
    messages("a")[0].send()
    body = fake_postmark.sent_messages[0]
    assert body["Tag"] == "stamped"
    assert body["Headers"] == [{"Name": "X-Stamp", "Value": "yes"}]


def test_post_send_gets_the_exception_of_a_failed_call(
    fake_postmark: FakePostmark,
    connect,  # type: ignore[no-untyped-def]
) -> None:
    post = connect(signals.post_send)
    fake_postmark.script(Reply(401, {"ErrorCode": 10, "Message": "Bad token"}))
    with pytest.raises(UnauthorizedError):
        get_connection().send_messages(messages("a", "b"))
    [call] = post
    assert isinstance(call["exception"], UnauthorizedError)
    assert [r.status for r in call["results"]] == ["failed", "failed"]
    assert all(r.error is call["exception"] for r in call["results"])


def test_failing_post_send_receiver_is_logged_and_stops_nothing(
    fake_postmark: FakePostmark,
    connect,  # type: ignore[no-untyped-def]
    settings,  # type: ignore[no-untyped-def]
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(**kwargs: Any) -> None:
        raise RuntimeError("the log's database is down")

    settings.POSTMARK_BATCH_SIZE = 2
    connect(signals.post_send, broken)
    batch = messages("a", "b", "c")
    with caplog.at_level("ERROR", logger="postmark"):
        assert get_connection().send_messages(batch) == 3
    assert len(fake_postmark.requests) == 2
    assert Message.objects.count() == 3  # the default receiver still ran
    failures = [r for r in caplog.records if "post_send receiver" in r.getMessage()]
    assert len(failures) == 2
    assert failures[0].exc_info and "database is down" in str(failures[0].exc_info[1])
