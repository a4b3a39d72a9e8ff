"""Postmark takes at most 50 MB per request: a batch that would pass it goes as several calls
that fit, and a message or Bulk API request that cannot fit is refused before any request."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.core.mail import EmailMessage, get_connection
from hypothesis import given
from hypothesis import strategies as st

from postmark import signals
from postmark.api.spec import MAX_BATCH_BYTES
from postmark.client import encode_json
from postmark.exceptions import UnsupportedMessageError
from postmark.message import PostmarkEmailMessage
from postmark.sandbox import Sandbox
from postmark.sending import batches
from postmark.sending.payload import to_payload
from tests.support.fake_postmark import FakePostmark
from tests.support.sending_strategies import examples

pytestmark = pytest.mark.django_db

MIB = 1024 * 1024


def invoice(n: int, size: int = MIB) -> EmailMessage:
    message = EmailMessage(f"Invoice {n}", "Attached.", "shop@example.com", [f"c{n}@example.com"])
    # Every byte value, so 4/3 as large once in base64; shifted so that no two are alike.
    content = (bytes(range(256)) * (size // 256 + 1))[n % 256 : n % 256 + size]
    message.attach(f"invoice-{n}.pdf", content, "application/pdf")
    return message


def calls(connect: Any) -> tuple[list[Any], list[Any]]:
    return connect(signals.pre_send), connect(signals.post_send)


def test_a_batch_over_50_mb_goes_as_calls_the_sandbox_accepts_each_message_once(
    postmark_sandbox: Sandbox, connect: Any
) -> None:
    pre, post = calls(connect)
    messages = [invoice(n) for n in range(60)]  # 80 MB of base64 in one batch of 60

    assert get_connection().send_messages(messages) == 60

    assert [m.postmark.status for m in messages] == ["sent"] * 60
    received = [m.subject for m in postmark_sandbox.state.messages]
    assert sorted(received) == sorted(m.subject for m in messages)
    assert len(pre) == 1  # one batch of up to 500...
    assert len(post) == 2  # ...posted as two calls, each with its post_send


def test_each_call_fits_in_50_mb_and_keeps_its_messages_in_order(
    fake_postmark: FakePostmark,
) -> None:
    messages = [invoice(n) for n in range(60)]

    get_connection().send_messages(messages)

    # The calls go at once, so they may arrive in either order.
    first, second = sorted(fake_postmark.requests, key=lambda r: int(r.body[0]["Subject"][8:]))
    sizes = [len(encode_json(request.body)) for request in (first, second)]
    assert max(sizes) <= MAX_BATCH_BYTES
    # Packed, not halved: the first call holds as many as fit, the second the rest, in order.
    assert sizes[0] + len(encode_json(second.body[0])) > MAX_BATCH_BYTES
    subjects = [m["Subject"] for m in first.body + second.body]
    assert subjects == [m.subject for m in messages]


def test_a_bulk_request_over_50_mb_is_refused_before_any_request(
    fake_postmark: FakePostmark,
) -> None:
    readers = [f"r{n}@example.com" for n in range(60)]
    news = PostmarkEmailMessage(
        "News",
        "Hi {{name}}",
        "news@example.com",
        readers,
        bulk=True,
        merge_data={reader: {"name": reader * (MIB // len(reader))} for reader in readers},
    )

    with pytest.raises(UnsupportedMessageError, match="split its recipients") as caught:
        get_connection().send_messages([news])

    assert caught.value.field == "recipients"
    assert fake_postmark.requests == []


def test_a_message_too_large_for_any_request_fails_alone_with_fail_silently(
    fake_postmark: FakePostmark,
) -> None:
    huge = PostmarkEmailMessage(
        to=["big@example.com"],
        from_email="shop@example.com",
        template_alias="report",
        template_model={"rows": ["x" * 1024] * (51 * 1024)},  # 51 MB of model
    )
    fine = PostmarkEmailMessage(
        to=["fine@example.com"], from_email="shop@example.com", template_alias="report"
    )

    assert get_connection(fail_silently=True).send_messages([huge, fine]) == 1

    assert huge.postmark.status == "failed" and huge.postmark.error.field == "size"
    assert fine.postmark.status == "sent"
    assert [m["To"] for m in fake_postmark.sent_messages] == ["fine@example.com"]


def test_small_batches_are_one_call_as_before(fake_postmark: FakePostmark) -> None:
    messages = [invoice(n, size=1024) for n in range(500)]

    get_connection().send_messages(messages)

    assert len(fake_postmark.requests) == 1


@pytest.fixture
def small_limit(monkeypatch: pytest.MonkeyPatch) -> int:
    """Postmark's 50 MB scaled down to 20 KB, so that generated sends cross it often, fast."""
    limit = 20 * 1024
    monkeypatch.setattr(batches, "MAX_BATCH_BYTES", limit)
    return limit


def test_whatever_the_sizes_each_call_fits_and_each_message_goes_once_in_order(
    fake_postmark: FakePostmark, small_limit: int
) -> None:
    @examples(30)
    @given(
        sizes=st.lists(st.integers(0, 24 * 1024), min_size=1, max_size=40),
        template=st.booleans(),
    )
    def check(sizes: list[int], template: bool) -> None:
        fake_postmark.requests.clear()
        messages = [sized(n, size, template) for n, size in enumerate(sizes)]

        get_connection(fail_silently=True).send_messages(messages)

        for request in fake_postmark.requests:
            assert len(encode_json(request.body)) <= small_limit
        # Each call holds a run of messages in order; the calls go at once, in any order.
        runs = [
            [int(m["Metadata"]["n"]) for m in fake_postmark.messages_in([request])]
            for request in fake_postmark.requests
        ]
        too_big = [m for m in messages if m.postmark.status == "failed"]
        assert [n for run in sorted(runs) for n in run] == [
            m.metadata["n"] for m in messages if m not in too_big
        ]
        for message in too_big:  # refused alone, and only when it could never fit
            assert message.postmark.error.field == "size"
            # As it would have gone: with its generated id in the Metadata.
            as_sent = to_payload(message, link_id=str(uuid.uuid4()))
            assert len(encode_json(as_sent)) > small_limit - 64

    check()


def sized(n: int, size: int, template: bool) -> PostmarkEmailMessage:
    # Text whose JSON is larger than its length: 2 bytes per "é" in UTF-8, 3 per U+2028.
    options: dict[str, Any] = (
        {"template_alias": "news", "template_model": {"text": "é" * (size // 2)}}
        if template
        else {"subject": f"Message {n}", "body": "Hi" + "\u2028" * (size // 3)}
    )
    return PostmarkEmailMessage(
        from_email="shop@example.com", to=[f"r{n}@example.com"], metadata={"n": n}, **options
    )
