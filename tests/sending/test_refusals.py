"""What Postmark cannot carry fails before any request, says what and why, and drops nothing."""

from __future__ import annotations

import pytest
from django.core.mail import EmailMessage, EmailMultiAlternatives, get_connection

from postmark.exceptions import UnsupportedMessageError
from tests.support.fake_postmark import FakePostmark

pytestmark = pytest.mark.django_db


def good(n: int = 0) -> EmailMessage:
    return EmailMessage(f"ok {n}", "fine", "from@example.com", [f"ok{n}@example.com"])


def two_html_alternatives() -> EmailMessage:
    message = EmailMultiAlternatives("s", "text", "from@example.com", ["bob@example.com"])
    message.attach_alternative("<p>one</p>", "text/html")
    message.attach_alternative("<p>two</p>", "text/html")
    return message


def html_body_and_html_alternative() -> EmailMessage:
    message = EmailMultiAlternatives("s", "<p>body</p>", "from@example.com", ["bob@example.com"])
    message.content_subtype = "html"
    message.attach_alternative("<p>alternative</p>", "text/html")
    return message


def non_text_alternative() -> EmailMessage:
    message = EmailMultiAlternatives("s", "text", "from@example.com", ["bob@example.com"])
    message.attach_alternative("BEGIN:VCALENDAR", "text/calendar")
    return message


def too_many_recipients() -> EmailMessage:
    return EmailMessage(
        "s",
        "b",
        "from@example.com",
        to=[f"to{i}@example.com" for i in range(20)],
        cc=[f"cc{i}@example.com" for i in range(20)],
        bcc=[f"bcc{i}@example.com" for i in range(11)],
    )


def too_big() -> EmailMessage:
    message = EmailMessage("s", "b", "from@example.com", ["bob@example.com"])
    # 8 MB of bytes is 10.7 MB once base64-encoded, which is what Postmark counts.
    message.attach("big.bin", b"\0" * (8 * 1024 * 1024), "application/octet-stream")
    return message


def xml_body() -> EmailMessage:
    message = EmailMessage("s", "<x/>", "from@example.com", ["bob@example.com"])
    message.content_subtype = "xml"
    return message


def no_body() -> EmailMessage:
    return EmailMessage("s", "", "from@example.com", ["bob@example.com"])


def header_postmark_builds() -> EmailMessage:
    return EmailMessage(
        "s", "b", "from@example.com", ["bob@example.com"], headers={"Subject": "other"}
    )


def bad_address() -> EmailMessage:
    return EmailMessage("s", "b", "from@example.com", ["not-an-address"])


def metadata_keys_differing_by_case() -> EmailMessage:
    message = EmailMessage("s", "b", "from@example.com", ["bob@example.com"])
    message.metadata = {"Order": "1", "order": "2"}  # type: ignore[attr-defined]
    return message


def unknown_track_links() -> EmailMessage:
    message = EmailMessage("s", "b", "from@example.com", ["bob@example.com"])
    message.track_links = "Everything"  # type: ignore[attr-defined]
    return message


def tag_too_long() -> EmailMessage:
    message = EmailMessage("s", "b", "from@example.com", ["bob@example.com"])
    message.tag = "t" * 1001  # type: ignore[attr-defined]
    return message


REFUSALS = {
    two_html_alternatives: "one HTML body",
    html_body_and_html_alternative: "one HTML body",
    non_text_alternative: "text/calendar alternative",
    too_many_recipients: "at most 50 recipients",
    too_big: "at most 10 MB",
    xml_body: "not text/xml",
    no_body: "needs a text or an HTML body",
    header_postmark_builds: "builds the Subject header itself",
    bad_address: "not a valid email address",
    metadata_keys_differing_by_case: "differ only by case",
    unknown_track_links: "track_links must be one of",
    tag_too_long: "at most 1000 characters",
}


@pytest.mark.parametrize("make", REFUSALS, ids=lambda make: make.__name__)
def test_refused_message_raises_before_any_request(make, fake_postmark: FakePostmark) -> None:  # type: ignore[no-untyped-def]
    # The bad message sits among good ones and in the second batch: nothing at all is posted.
    messages = [good(1), good(2), make()]
    with pytest.raises(UnsupportedMessageError, match=REFUSALS[make]):
        get_connection().send_messages(messages)
    assert fake_postmark.requests == []


def test_refusal_in_a_later_batch_still_stops_the_first(
    fake_postmark: FakePostmark, settings
) -> None:  # type: ignore[no-untyped-def]
    settings.POSTMARK_BATCH_SIZE = 2
    with pytest.raises(UnsupportedMessageError):
        get_connection().send_messages([good(1), good(2), good(3), non_text_alternative()])
    assert fake_postmark.requests == []


def test_fail_silently_sends_the_others_and_marks_the_refused_one(
    fake_postmark: FakePostmark,
) -> None:
    refused = two_html_alternatives()
    messages = [good(1), refused, good(2)]
    assert get_connection(fail_silently=True).send_messages(messages) == 2
    assert [m["To"] for m in fake_postmark.sent_messages] == ["ok1@example.com", "ok2@example.com"]
    assert refused.postmark.status == "failed"  # type: ignore[attr-defined]
    assert "one HTML body" in refused.postmark.message  # type: ignore[attr-defined]
    assert isinstance(refused.postmark.error, UnsupportedMessageError)  # type: ignore[attr-defined]


def test_exactly_fifty_recipients_is_accepted(fake_postmark: FakePostmark) -> None:
    message = EmailMessage("s", "b", "from@example.com", [f"to{i}@example.com" for i in range(50)])
    assert message.send() == 1
