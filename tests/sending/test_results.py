"""Every message carries a result, including the ones that failed inside a good batch."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from django.core.mail import EmailMessage, get_connection

from postmark.exceptions import BatchError, InactiveRecipientsError, InvalidRequestError
from postmark.results import PostmarkResult
from postmark.sending.recipients import LINK_KEY
from tests.support.fake_postmark import FakePostmark, Received, Reply, accepted

pytestmark = pytest.mark.django_db

INACTIVE_TEXT = (
    "You tried to send to recipient(s) that have been marked as inactive. Found inactive "
    "addresses: b@example.com. Inactive recipients are ones that have generated a hard bounce, "
    "a spam complaint, or a manual suppression."
)


def messages(*names: str) -> list[EmailMessage]:
    return [EmailMessage("s", "b", "from@example.com", [f"{n}@example.com"]) for n in names]


def result(message: EmailMessage) -> PostmarkResult:
    value: PostmarkResult = message.postmark  # type: ignore[attr-defined]
    return value


def batch_reply(*items: dict[str, Any] | None) -> Any:
    """A batch answer: None means "accepted" for that position, a dict is the item itself."""

    def reply(received: Received) -> Reply:
        return Reply(
            200,
            [
                item if item is not None else accepted(m)
                for item, m in zip(items, received.body, strict=True)
            ],
        )

    return reply


def test_accepted_message_result_has_id_time_and_recipients(fake_postmark: FakePostmark) -> None:
    [message] = messages("a")
    message.to = ["Ann <A@Example.com>"]
    fake_postmark.script(
        Reply(
            200,
            {
                "To": "a@example.com",
                "SubmittedAt": "2026-11-27T10:11:12.1234567-04:00",
                "MessageID": "b7bc2f4a-e38e-4336-af7d-e6c392c2f817",
                "ErrorCode": 0,
                "Message": "OK",
            },
        )
    )
    assert message.send() == 1
    assert result(message) == PostmarkResult(
        "sent",
        message_id="b7bc2f4a-e38e-4336-af7d-e6c392c2f817",
        submitted_at=datetime(2026, 11, 27, 14, 11, 12, 123456, tzinfo=UTC),
        recipients=["a@example.com"],
        error_code=0,
        message="OK",
        # The id it was sent with, by which Postmark's search finds it.
        link_id=fake_postmark.sent_messages[0]["Metadata"][LINK_KEY],
    )
    assert result(message).accepted


def test_failures_inside_a_batch_get_their_own_results_and_raise_batch_error(
    fake_postmark: FakePostmark,
) -> None:
    batch = messages("a", "b", "c")
    fake_postmark.script(
        batch_reply(
            None,
            {"ErrorCode": 406, "Message": INACTIVE_TEXT, "To": "b@example.com"},
            {"ErrorCode": 300, "Message": "Invalid 'To' address: 'c@example.com'."},
        )
    )
    with pytest.raises(BatchError) as caught:
        get_connection().send_messages(batch)

    error = caught.value
    assert error.sent == 1
    assert [message for message, _ in error.failures] == batch[1:]
    assert "2 message(s) failed, 1 sent" in str(error)
    assert "b@example.com: You tried to send" in str(error)
    assert "c@example.com: Invalid 'To' address" in str(error)

    assert result(batch[0]).status == "sent"
    inactive = result(batch[1])
    assert (inactive.status, inactive.error_code) == ("failed", 406)
    assert isinstance(inactive.error, InactiveRecipientsError)
    assert inactive.error.recipients == ["b@example.com"]
    invalid = result(batch[2])
    assert (invalid.status, invalid.error_code, invalid.recipients) == (
        "failed",
        300,
        ["c@example.com"],
    )
    assert isinstance(invalid.error, InvalidRequestError)
    # The accepted message is not sent again: one request, three messages.
    assert len(fake_postmark.requests) == 1


def test_fail_silently_returns_only_the_accepted_count(fake_postmark: FakePostmark) -> None:
    batch = messages("a", "b")
    fake_postmark.script(batch_reply(None, {"ErrorCode": 300, "Message": "Invalid"}))
    assert get_connection(fail_silently=True).send_messages(batch) == 1
    assert [result(m).status for m in batch] == ["sent", "failed"]


def test_later_batches_still_go_after_a_partial_failure_and_nothing_twice(
    fake_postmark: FakePostmark,
    settings,  # type: ignore[no-untyped-def]
) -> None:
    settings.POSTMARK_BATCH_SIZE = 2
    batch = messages("a", "b", "c", "d")
    fake_postmark.script(batch_reply({"ErrorCode": 300, "Message": "Invalid"}, None))
    with pytest.raises(BatchError) as caught:
        get_connection().send_messages(batch)
    assert caught.value.sent == 3
    # Both calls go at once, so either may be the one the scripted answer goes to.
    assert sorted(m["To"] for m in fake_postmark.sent_messages) == [
        "a@example.com",
        "b@example.com",
        "c@example.com",
        "d@example.com",
    ]


def test_a_failed_call_stops_later_batches_and_reports_them_unsent(
    fake_postmark: FakePostmark,
    settings,  # type: ignore[no-untyped-def]
) -> None:
    settings.POSTMARK_BATCH_SIZE = 2
    settings.POSTMARK_MAX_CONCURRENT_CALLS = 1  # several at once: tests/sending/test_concurrency
    batch = messages("a", "b", "c", "d", "e", "f")
    fake_postmark.script(
        batch_reply(None, None), Reply(422, {"ErrorCode": 300, "Message": "Bad batch"})
    )
    with pytest.raises(BatchError) as caught:
        get_connection().send_messages(batch)
    assert len(fake_postmark.requests) == 2
    assert caught.value.sent == 2
    assert [message for message, _ in caught.value.failures] == batch[2:]
    assert [result(m).status for m in batch] == ["sent"] * 2 + ["failed"] * 4
    assert result(batch[4]).message.startswith("Not sent: the request for an earlier batch failed")


def test_ok_but_inactive_addresses_is_sent_and_names_them(fake_postmark: FakePostmark) -> None:
    [message] = messages("a")
    message.cc = ["gone@example.com", "left@example.org"]
    text = (
        "OK, but will not deliver to these inactive addresses: gone@example.com, left@example.org"
    )
    fake_postmark.script(lambda r: Reply(200, {**accepted(r.body), "Message": text}))
    assert message.send() == 1
    assert result(message).status == "sent"
    assert result(message).inactive_recipients == ["gone@example.com", "left@example.org"]
    assert result(message).message == text


def test_delayed_answer_without_error_code_is_accepted_as_delayed(
    fake_postmark: FakePostmark,
) -> None:
    [message] = messages("a")
    fake_postmark.script(
        Reply(
            200,
            {
                "To": "a@example.com",
                "SubmittedAt": "2026-11-27T10:11:12Z",
                "MessageID": "0d1b1b1a-0000-4000-8000-000000000000",
                "Message": "Message accepted, but delivery may be delayed.",
            },
        )
    )
    assert message.send() == 1
    assert (result(message).status, result(message).error_code) == ("delayed", 0)
    assert result(message).accepted
    assert result(message).submitted_at == datetime(2026, 11, 27, 10, 11, 12, tzinfo=UTC)


def test_result_without_to_takes_recipients_from_the_message(fake_postmark: FakePostmark) -> None:
    message = EmailMessage(
        "s", "b", "from@example.com", cc=["c@example.com"], bcc=["d@example.com"]
    )
    fake_postmark.script(
        lambda r: Reply(200, {k: v for k, v in accepted(r.body).items() if k != "To"})
    )
    assert message.send() == 1
    assert result(message).recipients == ["c@example.com", "d@example.com"]


def test_batch_answer_with_wrong_length_is_an_error_not_a_guess(
    fake_postmark: FakePostmark,
) -> None:
    batch = messages("a", "b")
    fake_postmark.script(lambda r: Reply(200, [accepted(r.body[0])]))
    with pytest.raises(Exception, match="which messages went is unknown"):
        get_connection().send_messages(batch)
    assert [result(m).status for m in batch] == ["unknown", "unknown"]
