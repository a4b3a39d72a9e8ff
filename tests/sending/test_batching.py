"""Work per API call, not per message: batches of 500, one keep-alive session, constant queries."""

from __future__ import annotations

import os

import pytest
from django.core.mail import EmailMessage, get_connection
from django.db import connection
from django.test.utils import CaptureQueriesContext

from postmark.models import Message
from tests.support.fake_postmark import FakePostmark

pytestmark = pytest.mark.django_db


def messages(count: int) -> list[EmailMessage]:
    return [
        EmailMessage(f"Message {i}", "Body", "from@example.com", [f"to{i}@example.com"])
        for i in range(count)
    ]


def test_1001_messages_take_three_requests(fake_postmark: FakePostmark) -> None:
    batch = messages(1001)
    assert get_connection().send_messages(batch) == 1001
    # The calls go at once (POSTMARK_MAX_CONCURRENT_CALLS), so they may arrive in any order.
    assert sorted(
        (r.path, len(r.body) if r.path == "/email/batch" else 1) for r in fake_postmark.requests
    ) == [
        ("/email", 1),
        ("/email/batch", 500),
        ("/email/batch", 500),
    ]
    # Every message went once, in order within its batch.
    assert sorted(m["To"] for m in fake_postmark.sent_messages) == sorted(
        f"to{i}@example.com" for i in range(1001)
    )


def test_batch_size_setting_splits_smaller(fake_postmark: FakePostmark, settings) -> None:  # type: ignore[no-untyped-def]
    settings.POSTMARK_BATCH_SIZE = 3
    assert get_connection().send_messages(messages(7)) == 7
    sizes = [len(r.body) if isinstance(r.body, list) else 1 for r in fake_postmark.requests]
    assert sorted(sizes) == [1, 3, 3]  # the calls go at once, in any order


def test_queries_are_per_api_call_not_per_message(fake_postmark: FakePostmark) -> None:
    if os.environ.get("POSTMARK_TEST_PORTABLE_SQL") == "1":
        pytest.skip("the ORM's storage path logs with bulk_create, split at the parameter limit")
    with CaptureQueriesContext(connection) as ten:
        assert get_connection().send_messages(messages(10)) == 10
    fake_postmark.requests.clear()
    with CaptureQueriesContext(connection) as thousand:
        assert get_connection().send_messages(messages(1000)) == 1000

    assert len(fake_postmark.requests) == 2

    def is_log_insert(query: dict[str, str]) -> bool:
        return f"INSERT INTO {connection.ops.quote_name('postmark_message')}" in query["sql"]

    # The log is one statement per API call (executemany: logged as "N times: INSERT ...").
    assert [q["sql"].split(":")[0] for q in ten.captured_queries if is_log_insert(q)] == [
        "10 times"
    ]
    assert [q["sql"].split(":")[0] for q in thousand.captured_queries if is_log_insert(q)] == [
        "500 times",
        "500 times",
    ]
    # Whatever other receivers query (suppression lists...), they do it per call too.
    others = [[q for q in c.captured_queries if not is_log_insert(q)] for c in (ten, thousand)]
    assert len(others[1]) == 2 * len(others[0])
    assert Message.objects.count() == 1010


def test_one_keep_alive_connection_for_every_batch(fake_postmark: FakePostmark, settings) -> None:  # type: ignore[no-untyped-def]
    settings.POSTMARK_BATCH_SIZE = 2
    settings.POSTMARK_MAX_CONCURRENT_CALLS = 1  # several at once: tests/sending/test_concurrency
    get_connection().send_messages(messages(6))
    assert len(fake_postmark.requests) == 3
    assert len({r.client for r in fake_postmark.requests}) == 1


def test_session_is_kept_between_open_and_close(fake_postmark: FakePostmark) -> None:
    backend = get_connection()
    assert backend.open() is True
    assert backend.open() is False  # already open: the caller that opened it closes it
    session = backend.client.session  # type: ignore[attr-defined]
    backend.send_messages(messages(1))
    backend.send_messages(messages(2))
    assert backend.client.session is session  # type: ignore[attr-defined]
    backend.close()
    assert backend.client is None  # type: ignore[attr-defined]
    assert len({r.client for r in fake_postmark.requests}) == 1

    # Without open(), each send_messages() opens and closes its own session.
    backend.send_messages(messages(1))
    assert backend.client is None  # type: ignore[attr-defined]


def test_context_manager_opens_once_for_several_sends(fake_postmark: FakePostmark) -> None:
    with get_connection() as backend:
        backend.send_messages(messages(1))
        backend.send_messages(messages(1))
    assert len(fake_postmark.requests) == 2
    assert len({r.client for r in fake_postmark.requests}) == 1


def test_empty_list_makes_no_request(fake_postmark: FakePostmark) -> None:
    assert get_connection().send_messages([]) == 0
    assert fake_postmark.requests == []


def test_message_without_recipients_is_skipped_like_django_does(
    fake_postmark: FakePostmark,
) -> None:
    nobody = EmailMessage("s", "b", "from@example.com", [])
    assert get_connection().send_messages([nobody, *messages(1)]) == 1
    assert len(fake_postmark.sent_messages) == 1
    assert nobody.postmark.status == "failed"  # type: ignore[attr-defined]
    assert "no recipients" in nobody.postmark.message  # type: ignore[attr-defined]


def test_a_plain_message_gains_only_its_result_attribute(
    fake_postmark: FakePostmark,
) -> None:
    # Memory per message: on CPython each attribute set on a message past the first can give it
    # an attribute dict of its own (hundreds of bytes), which a send of 100,000 messages the
    # caller keeps would hold on to. A plain message needs nothing but its documented result.
    batch = messages(3)
    before = [set(vars(message)) for message in batch]
    assert get_connection().send_messages(batch) == 3
    gained = [set(vars(message)) - names for message, names in zip(batch, before, strict=True)]
    assert gained == [{"postmark"}] * 3
