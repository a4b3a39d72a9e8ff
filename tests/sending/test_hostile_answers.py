"""Answers a Postmark stand-in should never give, and what each must give the caller: a result
for every message, a log row for every message, no second send, no token sent elsewhere, and a
call that ends by its deadline."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
from django.core.mail import EmailMessage, get_connection

from postmark.exceptions import BatchError, PostmarkTimeout, UnexpectedAnswerError
from postmark.models import Message
from postmark.results import Status
from tests.support.fake_postmark import FakePostmark, Reply, accepted, redirect, serving

pytestmark = pytest.mark.django_db


def batch(count: int) -> list[EmailMessage]:
    return [
        EmailMessage(f"s{n}", "b", "from@example.com", [f"to{n}@example.com"]) for n in range(count)
    ]


@pytest.fixture
def elsewhere() -> Iterator[FakePostmark]:
    with serving() as other:
        yield other


def test_unreadable_items_are_unknown_the_readable_ones_keep_their_result_and_all_are_logged(
    fake_postmark: FakePostmark,
) -> None:
    good = accepted({"To": "to0@example.com"})
    fake_postmark.script(
        Reply(200, [good, None, "OK", {**good, "ErrorCode": "x"}, {**good, "ErrorCode": 2**40}])
    )
    messages = batch(5)
    with pytest.raises(BatchError) as caught:
        get_connection().send_messages(messages)
    assert [m.postmark.status for m in messages] == [Status.SENT] + [Status.UNKNOWN] * 4  # type: ignore[attr-defined]
    assert caught.value.sent == 1
    assert Message.objects.count() == 5
    assert all(isinstance(error, UnexpectedAnswerError) for _, error in caught.value.failures)


def test_a_redirect_is_not_followed_and_the_token_stays_home(
    fake_postmark: FakePostmark, elsewhere: FakePostmark, settings
) -> None:  # type: ignore[no-untyped-def]
    settings.POSTMARK_MAX_RETRIES = 3
    fake_postmark.script(redirect(elsewhere.url + "/email/batch", 307))
    messages = batch(2)
    assert get_connection(fail_silently=True).send_messages(messages) == 0
    assert [m.postmark.status for m in messages] == [Status.UNKNOWN, Status.UNKNOWN]  # type: ignore[attr-defined]
    assert messages[0].postmark.error.http_status == 307  # type: ignore[attr-defined]
    assert len(fake_postmark.requests) == 1
    assert elsewhere.requests == []


def test_a_dripped_answer_ends_by_the_deadline_not_per_read(
    fake_postmark: FakePostmark, settings
) -> None:  # type: ignore[no-untyped-def]
    settings.POSTMARK_TIMEOUT = (0.3, 0.3)
    # About 30 bytes a second for a 300-byte answer: each read is quick, the whole takes 10 s.
    fake_postmark.script(Reply(200, [accepted({})] * 2, drip=0.03))
    messages = batch(2)
    started = time.monotonic()
    with pytest.raises(PostmarkTimeout, match="POSTMARK_TIMEOUT"):
        get_connection().send_messages(messages)
    assert time.monotonic() - started < 2.0
    assert {m.postmark.status for m in messages} == {Status.UNKNOWN}  # type: ignore[attr-defined]
    assert len(fake_postmark.requests) == 1


def test_a_deadline_cut_leaves_the_connection_usable_for_the_next_call(
    fake_postmark: FakePostmark, settings
) -> None:  # type: ignore[no-untyped-def]
    settings.POSTMARK_TIMEOUT = (0.3, 0.3)
    fake_postmark.script(Reply(200, [accepted({})] * 2, drip=0.03))
    with get_connection(fail_silently=True) as connection:
        connection.send_messages(batch(2))
        later = batch(1)
        assert connection.send_messages(later) == 1
    assert later[0].postmark.status == Status.SENT  # type: ignore[attr-defined]


def test_an_answer_cut_short_is_unknown_and_not_sent_again(
    fake_postmark: FakePostmark, settings
) -> None:  # type: ignore[no-untyped-def]
    settings.POSTMARK_MAX_RETRIES = 3
    fake_postmark.script(Reply(200, [accepted({})] * 3, cut_after=10))
    messages = batch(3)
    assert get_connection(fail_silently=True).send_messages(messages) == 0
    assert {m.postmark.status for m in messages} == {Status.UNKNOWN}  # type: ignore[attr-defined]
    assert len(fake_postmark.requests) == 1
    assert Message.objects.filter(status=Status.UNKNOWN).count() == 3


@pytest.fixture
def header_dripper() -> Iterator[str]:
    """A server that reads a request, then sends its answer's headers a byte every 20 ms."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        with listener:
            listener.settimeout(0.1)
            while not stop.is_set():
                try:
                    conn, _ = listener.accept()
                except TimeoutError:
                    continue
                with conn:
                    conn.recv(65536)
                    for byte in b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" * 10:
                        if stop.is_set():
                            return
                        try:
                            conn.sendall(bytes([byte]))
                        except OSError:
                            break
                        time.sleep(0.02)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join(2)


def test_dripped_headers_end_by_the_deadline_too(header_dripper: str, settings) -> None:  # type: ignore[no-untyped-def]
    settings.POSTMARK_API_URL = header_dripper
    settings.POSTMARK_TIMEOUT = (0.3, 0.3)
    messages = batch(1)
    started = time.monotonic()
    with pytest.raises(PostmarkTimeout):
        get_connection().send_messages(messages)
    assert time.monotonic() - started < 2.0
    assert messages[0].postmark.status == Status.UNKNOWN  # type: ignore[attr-defined]
