"""``postmark.testing.backend.PostmarkTestBackend``, as a user's suite uses it: EMAIL_BACKEND set to
it, mail sent the ordinary way, then ``mail.outbox`` with each payload as Postmark would receive it
and each message's result; the signals and default receivers run as with the real backend."""

from __future__ import annotations

import datetime
import json
import uuid
from typing import Any

import pytest
from django.core import mail
from django.core.mail import EmailMessage, send_mail
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from postmark import signals
from postmark.exceptions import UnsupportedMessageError
from postmark.message import Defaults, PostmarkEmailMessage
from postmark.models import Message, Suppression
from postmark.results import Status
from postmark.sending.payload import to_payload
from tests.support.backend_contract import BackendContract
from tests.support.link_ids import without_link_id

pytestmark = pytest.mark.django_db

BACKEND = "postmark.testing.backend.PostmarkTestBackend"


class TestPostmarkTestBackend(BackendContract):
    """The test backend keeps the contract of the backend it stands in for."""

    backend = BACKEND
    in_memory = True


@pytest.fixture(autouse=True)
def _test_backend(settings: Any) -> None:
    settings.EMAIL_BACKEND = BACKEND
    settings.POSTMARK_API_KEY = None  # it needs no token: nothing leaves the process
    settings.POSTMARK_API_URL = "http://127.0.0.1:9"  # and nothing is listening there


def test_each_sent_message_is_in_the_outbox_with_its_payload_and_result(settings: Any) -> None:
    settings.POSTMARK_TAG = "default-tag"
    message = PostmarkEmailMessage(
        "Welcome",
        "Hi Ann",
        "Shop <shop@example.com>",
        ["Ann <ann@example.com>"],
        metadata={"order": 7},
        template_model={"day": datetime.date(2026, 12, 24)},
    )
    assert message.send() == 1
    [sent] = mail.outbox
    assert sent is message
    payload = without_link_id(sent.postmark_payload)  # type: ignore[attr-defined]
    assert payload == json.loads(
        json.dumps(to_payload(message, Defaults.from_settings()), default=str)
    )
    assert payload["Tag"] == "default-tag"
    assert payload["Metadata"] == {"order": "7"}
    assert sent.postmark.status == Status.SENT  # type: ignore[attr-defined]
    uuid.UUID(sent.postmark.message_id)  # type: ignore[attr-defined]
    assert sent.postmark.recipients == ["ann@example.com"]  # type: ignore[attr-defined]


def test_the_signals_and_the_message_log_run_as_with_the_real_backend() -> None:
    calls: list[tuple[str, int]] = []

    def pre(sender: Any, messages: list[EmailMessage], **kwargs: Any) -> None:
        calls.append(("pre_send", len(messages)))

    def post(sender: Any, messages: list[EmailMessage], **kwargs: Any) -> None:
        calls.append(("post_send", len(messages)))

    signals.pre_send.connect(pre)
    signals.post_send.connect(post)
    try:
        messages = [
            EmailMessage("Hi", "Body", "s@example.com", [f"u{n}@x.com"]) for n in range(501)
        ]
        assert mail.get_connection().send_messages(messages) == 501
    finally:
        signals.pre_send.disconnect(pre)
        signals.post_send.disconnect(post)
    # One API call per 500 messages, as the real backend makes them.
    # (post_send follows each call as it ends: with calls at once, in either order.)
    assert calls[:2] == [("pre_send", 500), ("pre_send", 1)]
    assert sorted(calls[2:]) == [("post_send", 1), ("post_send", 500)]
    assert Message.objects.filter(status="sent").count() == 501
    assert len(mail.outbox) == 501


def test_a_suppressed_recipient_is_left_out_and_a_message_left_with_none_is_not_sent() -> None:
    Suppression.objects.create(email="gone@example.com", suppressed_at=timezone.now())
    kept = EmailMessage("Hi", "Body", "s@example.com", ["ann@example.com", "gone@example.com"])
    dropped = EmailMessage("Hi", "Body", "s@example.com", ["gone@example.com"])
    assert mail.get_connection().send_messages([kept, dropped]) == 1
    assert mail.outbox == [kept]
    assert kept.postmark_payload["To"] == "ann@example.com"  # type: ignore[attr-defined]
    assert dropped.postmark.status == Status.SUPPRESSED  # type: ignore[attr-defined]


def test_what_postmark_would_refuse_is_refused_before_anything_is_recorded() -> None:
    too_many = [f"u{n}@example.com" for n in range(51)]
    with pytest.raises(UnsupportedMessageError, match="at most 50 recipients"):
        send_mail("Hi", "Body", "s@example.com", too_many)
    assert mail.outbox == []


@given(
    # CR, LF and NUL in a subject are refused before sending (tests/sending cover that).
    subject=st.text(max_size=30).filter(lambda text: not {"\r", "\n", "\x00"} & set(text)),
    # At most 9 fields: Postmark takes 10, and the app adds its id (tests/sending/test_link_ids.py).
    metadata=st.dictionaries(
        st.from_regex(r"[a-z]{1,8}", fullmatch=True), st.text(max_size=10), max_size=9
    ),
)
def test_the_recorded_payload_is_what_the_real_backend_posts(
    subject: str, metadata: dict[str, str]
) -> None:
    mail.outbox = []
    message = PostmarkEmailMessage(subject, "Body", "s@example.com", ["a@x.com"], metadata=metadata)
    message.send()
    [sent] = mail.outbox
    expected = to_payload(message, Defaults.from_settings())
    # Plus the id the send path adds to every message's Metadata.
    assert without_link_id(sent.postmark_payload) == expected  # type: ignore[attr-defined]
