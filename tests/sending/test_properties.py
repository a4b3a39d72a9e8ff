"""Properties of sending, over generated Django messages: any code point in names, subjects and
bodies, attachments, options, and values Postmark refuses or that would break a header."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.mail import EmailMessage, get_connection
from hypothesis import given
from hypothesis import strategies as st

from postmark.exceptions import PostmarkError, UnsupportedMessageError
from postmark.message import Defaults
from postmark.models import Message
from postmark.results import Status
from postmark.sandbox import Sandbox
from postmark.sending.payload import to_payload
from tests.support.sending_strategies import (
    any_text,
    django_messages,
    examples,
    message_with_line_break,
)

pytestmark = pytest.mark.django_db


def header_values(payload: dict[str, Any]) -> list[str]:
    """Every value of a payload that Postmark writes into a mail header."""
    values = [str(payload.get(key) or "") for key in ("From", "To", "Cc", "Bcc", "ReplyTo")]
    values += [str(payload.get(key) or "") for key in ("Subject", "Tag", "MessageStream")]
    for header in payload.get("Headers") or ():
        values += [header["Name"], header["Value"]]
    for attachment in payload.get("Attachments") or ():
        values += [attachment["Name"], attachment["ContentType"], attachment.get("ContentID", "")]
    return values


@examples(150)
@given(message=django_messages())
def test_a_payload_never_carries_a_line_break_into_a_header(message: EmailMessage) -> None:
    try:
        payload = to_payload(message, Defaults())
    except UnsupportedMessageError as refusal:
        assert refusal.field, "a refusal names the field at fault"
        return
    for value in header_values(payload):
        assert "\r" not in value and "\n" not in value, value


@examples(20)
@given(messages=st.lists(st.integers(0, 10**6).flatmap(lambda n: django_messages(n)), max_size=4))
def test_against_the_sandbox_every_message_gets_a_result_and_refusals_send_nothing(
    messages: list[EmailMessage], postmark_sandbox: Sandbox
) -> None:
    sent_before, logged = len(postmark_sandbox.messages), Message.objects.count()
    try:
        count = get_connection().send_messages(messages)
    except UnsupportedMessageError:
        # Raised while the payloads are built, so before any request.
        assert len(postmark_sandbox.messages) == sent_before
        return
    except PostmarkError:  # Postmark's refusals arrive as BatchError or API errors
        count = None
    missing = [m.subject for m in messages if not hasattr(m, "postmark")]
    assert missing == [], f"messages without a result: {missing!r}"
    results = [message.postmark for message in messages]  # type: ignore[attr-defined]
    assert {result.status for result in results} <= {Status.SENT, Status.FAILED, Status.UNKNOWN}
    if count is not None:
        assert count == sum(result.status == Status.SENT for result in results)
    sendable = sum(bool(message.recipients()) for message in messages)
    assert Message.objects.count() == logged + sendable
    assert len(postmark_sandbox.messages) == sent_before + sum(
        r.status == Status.SENT for r in results
    )


@examples(20)
@given(messages=st.lists(django_messages(), min_size=1, max_size=3))
def test_with_fail_silently_nothing_escapes_and_every_message_gets_a_result(
    messages: list[EmailMessage], postmark_sandbox: Sandbox
) -> None:
    get_connection(fail_silently=True).send_messages(messages)
    assert all(getattr(message, "postmark", None) is not None for message in messages)


@examples(20)
@given(
    field=st.sampled_from(["Subject", "From", "To", "Reply-To", "header value"]),
    before=any_text,
    after=any_text,
)
def test_a_nul_in_a_header_is_refused(field: str, before: str, after: str) -> None:
    message = message_with_line_break(field, before + "\x00" + after)
    with pytest.raises(UnsupportedMessageError):
        to_payload(message, Defaults())
