"""One send_messages() posts its batches POSTMARK_MAX_CONCURRENT_CALLS at a time, keeping every
guarantee of one call at a time: a result on every message, the signals once per call from the
caller's thread, nothing posted once a call has failed, a deadline for each call."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.mail import EmailMessage, get_connection
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from postmark import signals
from postmark.conf import PostmarkConf
from postmark.exceptions import PostmarkError
from postmark.models import Message
from postmark.results import PostmarkResult
from tests.support.fake_postmark import FakePostmark, Received, Reply, default_reply

pytestmark = pytest.mark.django_db

BATCH = 2  # messages per API call in these tests (POSTMARK_BATCH_SIZE)


def messages(count: int) -> list[EmailMessage]:
    return [
        EmailMessage(f"Message {i}", "Body", "from@example.com", [f"to{i}@example.com"])
        for i in range(count)
    ]


def result(message: EmailMessage) -> PostmarkResult:
    value: PostmarkResult = message.postmark  # type: ignore[attr-defined]
    return value


def recipients(received: Received) -> list[str]:
    return [str(item["To"]) for item in FakePostmark.messages_in([received])]


@dataclass
class InFlight:
    """Answers every call after ``delay`` seconds (or as ``special`` says, for the calls it
    picks), counting the calls in flight at once and the sender's threads seen meanwhile."""

    delay: float
    special: Callable[[Received], Reply | None] = lambda received: None
    now: int = 0
    peak: int = 0
    threads: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, received: Received) -> Reply:
        with self.lock:
            self.now += 1
            self.peak = max(self.peak, self.now)
            self.threads |= {t.name for t in threading.enumerate() if t.name.startswith("postmark")}
        try:
            reply = self.special(received)
            if reply is None:
                time.sleep(self.delay)
                reply = default_reply(received)
            return reply
        finally:
            with self.lock:
                self.now -= 1

    def serve(self, fake: FakePostmark, calls: int) -> None:
        fake.script(*[self] * calls)


@pytest.fixture(autouse=True)
def _small_batches(settings: Any) -> None:
    settings.POSTMARK_BATCH_SIZE = BATCH
    settings.POSTMARK_MAX_RETRIES = 0  # a refused call fails at once instead of after backoffs


@pytest.mark.parametrize("width", [2, 3, 4])
def test_the_calls_of_one_send_go_up_to_the_setting_at_once(
    fake_postmark: FakePostmark, settings: Any, width: int
) -> None:
    settings.POSTMARK_MAX_CONCURRENT_CALLS = width
    server = InFlight(delay=0.15)
    server.serve(fake_postmark, 8)
    batch = messages(8 * BATCH)
    started = time.monotonic()
    assert get_connection().send_messages(batch) == len(batch)
    elapsed = time.monotonic() - started
    assert server.peak == width
    # One keep-alive connection per call in flight, reused by the calls that follow.
    assert len({r.client for r in fake_postmark.requests}) == width
    assert elapsed < 8 * 0.15 * 0.8  # well under one call at a time
    assert sorted(m["To"] for m in fake_postmark.sent_messages) == sorted(m.to[0] for m in batch)
    assert {result(m).status for m in batch} == {"sent"}


def test_the_default_makes_several_calls_at_once(fake_postmark: FakePostmark) -> None:
    server = InFlight(delay=0.1)
    server.serve(fake_postmark, 6)
    get_connection().send_messages(messages(6 * BATCH))
    assert server.peak > 1


@pytest.mark.parametrize(("width", "count"), [(1, 5 * BATCH), (4, BATCH), (4, 1)])
def test_one_call_or_the_setting_at_one_starts_no_thread(
    fake_postmark: FakePostmark, settings: Any, width: int, count: int
) -> None:
    settings.POSTMARK_MAX_CONCURRENT_CALLS = width
    server = InFlight(delay=0)
    server.serve(fake_postmark, 5)
    assert get_connection().send_messages(messages(count)) == count
    assert server.peak == 1
    assert not {name for name in server.threads if name.startswith("postmark-call")}
    assert len({r.client for r in fake_postmark.requests}) == 1


def test_an_open_backend_reuses_its_connections_across_sends(
    fake_postmark: FakePostmark, settings: Any
) -> None:
    settings.POSTMARK_MAX_CONCURRENT_CALLS = 3
    server = InFlight(delay=0.1)
    server.serve(fake_postmark, 12)
    with get_connection() as backend:
        backend.send_messages(messages(6 * BATCH))
        first = {r.client for r in fake_postmark.requests}
        backend.send_messages(messages(6 * BATCH))
    assert len(first) == 3
    assert {r.client for r in fake_postmark.requests} == first


# The faults a whole call can end with: refused by Postmark, a server error, no answer at all.
FAULTS = {
    "422": Reply(422, {"ErrorCode": 300, "Message": "Invalid email request"}),
    "401": Reply(401, {"ErrorCode": 10, "Message": "Bad or missing server token"}),
    "500": Reply(500, {"Message": "Internal error"}),
    "503": Reply(503, {"Message": "Planned outage"}),
    "dropped": Reply(drop=True),
}


@given(
    fault=st.sampled_from(sorted(FAULTS)),
    width=st.integers(min_value=2, max_value=4),
    extra=st.integers(min_value=1, max_value=3),
)
@hypothesis_settings(max_examples=8, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_once_a_call_fails_no_new_call_starts_and_the_calls_in_flight_count(
    fake_postmark: FakePostmark, settings: Any, fault: str, width: int, extra: int
) -> None:
    settings.POSTMARK_MAX_CONCURRENT_CALLS = width
    fake_postmark.requests.clear()
    # The last call of the first round fails quickly, while the others are still in flight.
    failing = f"to{(width - 1) * BATCH}@example.com"

    def fail_quickly(received: Received) -> Reply | None:
        if failing not in recipients(received):
            return None
        time.sleep(0.03)
        return FAULTS[fault]

    server = InFlight(delay=0.25, special=fail_quickly)
    batch = messages((width + extra) * BATCH)
    server.serve(fake_postmark, width + extra)
    with pytest.raises(PostmarkError):
        get_connection().send_messages(batch)
    fake_postmark.replies.clear()

    assert len(fake_postmark.requests) == width  # nothing was posted after the failure
    in_flight, failed, never = (
        batch[: (width - 1) * BATCH],
        batch[(width - 1) * BATCH :][:BATCH],
        batch[width * BATCH :],
    )
    assert {result(m).status for m in in_flight} == {"sent"}
    assert {result(m).status for m in failed} <= {"failed", "unknown"}
    error = result(failed[0]).error
    assert error is not None and all(result(m).error is error for m in failed)
    for message in never:
        assert result(message).status == "failed"
        assert result(message).message.startswith("Not sent: the request for an earlier batch")
    assert Message.objects.filter(status="sent").count() >= len(in_flight)


def test_with_fail_silently_every_batch_is_still_posted(
    fake_postmark: FakePostmark, settings: Any
) -> None:
    settings.POSTMARK_MAX_CONCURRENT_CALLS = 3
    server = InFlight(
        delay=0.05,
        special=lambda received: (
            FAULTS["422"] if "to4@example.com" in recipients(received) else None
        ),
    )
    server.serve(fake_postmark, 6)
    batch = messages(6 * BATCH)
    assert get_connection(fail_silently=True).send_messages(batch) == 5 * BATCH
    assert len(fake_postmark.requests) == 6
    assert [result(m).status for m in batch[4:6]] == ["failed", "failed"]
    assert {result(m).status for m in batch[:4] + batch[6:]} == {"sent"}


def test_the_signals_go_once_per_call_from_the_callers_thread(
    fake_postmark: FakePostmark, settings: Any
) -> None:
    settings.POSTMARK_MAX_CONCURRENT_CALLS = 4
    server = InFlight(delay=0.05)
    server.serve(fake_postmark, 6)
    seen: list[tuple[str, int, tuple[str, ...]]] = []

    def record(name: str) -> Callable[..., None]:
        def receiver(sender: Any, messages: list[EmailMessage], **kwargs: Any) -> None:
            seen.append((name, threading.get_ident(), tuple(m.to[0] for m in messages)))

        return receiver

    pre, post = record("pre_send"), record("post_send")
    signals.pre_send.connect(pre)
    signals.post_send.connect(post)
    try:
        batch = messages(6 * BATCH)
        get_connection().send_messages(batch)
    finally:
        signals.pre_send.disconnect(pre)
        signals.post_send.disconnect(post)
    assert server.peak > 1
    assert {ident for _, ident, _ in seen} == {threading.get_ident()}
    calls = sorted(
        tuple(m.to[0] for m in batch[i : i + BATCH]) for i in range(0, len(batch), BATCH)
    )
    for name in ("pre_send", "post_send"):
        assert sorted(to for kind, _, to in seen if kind == name) == calls
    # The message log (a post_send receiver) wrote through this thread's connection, inside the
    # test's transaction: a worker thread's connection could not see these rows.
    assert Message.objects.filter(status="sent").count() == len(batch)


def test_each_call_in_flight_keeps_its_own_deadline(
    fake_postmark: FakePostmark, settings: Any
) -> None:
    settings.POSTMARK_MAX_CONCURRENT_CALLS = 3
    settings.POSTMARK_TIMEOUT = (1.0, 0.3)
    # One answer drips a byte every 50 ms: each read is quick, the whole answer is not.
    server = InFlight(
        delay=0.05,
        special=lambda received: (
            Reply(200, default_reply(received).body, drip=0.05)
            if "to0@example.com" in recipients(received)
            else None
        ),
    )
    server.serve(fake_postmark, 6)
    batch = messages(6 * BATCH)
    started = time.monotonic()
    sent = get_connection(fail_silently=True).send_messages(batch)
    assert time.monotonic() - started < 3.0
    assert sent == 5 * BATCH
    assert [result(m).status for m in batch[:BATCH]] == ["unknown"] * BATCH
    assert "within 1.3 s" in result(batch[0]).message
    assert {result(m).status for m in batch[BATCH:]} == {"sent"}


@pytest.mark.parametrize("value", [0, -1, 65, 2.5, "4", True, None])
def test_the_setting_must_be_a_whole_number_from_1_to_64(value: Any) -> None:
    with pytest.raises(ImproperlyConfigured, match="POSTMARK_MAX_CONCURRENT_CALLS"):
        PostmarkConf().configure_max_concurrent_calls(value)
