"""Queued messages with a ``server_token``: the row keeps the server's label, never the token;
the worker finds the token among POSTMARK_SERVER_TOKENS and sends through that server."""

from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from postmark import signals
from postmark.api.spec import TEST_TOKEN
from postmark.conf import PostmarkConf
from postmark.exceptions import UnsupportedMessageError
from postmark.message import server_label
from postmark.models import Message, QueuedBatch
from tests.sending.test_bulk import news
from tests.support.fake_postmark import FakePostmark, Reply
from tests.support.queued_sending import messages, run_tasks, send

pytestmark = pytest.mark.django_db

NEWS_TOKEN = "news-server-token-5f1c9a"
SHOP_TOKEN = "shop-server-token-0b7e42"
BULK_ID = "7e0c3a56-2f1b-4b7e-9a43-0c8e51d7a6f2"


@pytest.fixture
def servers(settings: Any) -> None:
    settings.POSTMARK_API_KEY = "default-token"
    settings.POSTMARK_SERVER_TOKENS = [SHOP_TOKEN, NEWS_TOKEN]


@pytest.fixture
def commit(django_capture_on_commit_callbacks: Any) -> Any:
    """Runs the on-commit enqueue, as the end of the caller's transaction would."""
    return django_capture_on_commit_callbacks


def stored_rows() -> str:
    """Every batch row, every column, as one text to search."""
    return json.dumps(list(QueuedBatch.objects.values()), default=str)


def states(outcomes: list[dict[str, Any]]) -> list[str]:
    return [outcome["state"] for outcome in outcomes]


def messages_per_token(fake: FakePostmark) -> Counter[str]:
    return Counter(
        {
            request.headers["X-Postmark-Server-Token"]: len(fake.messages_in([request]))
            for request in fake.requests
        }
    )


def test_a_queued_message_for_a_listed_server_goes_with_its_token_the_others_with_the_default(
    servers: None, queued: Any, fake_postmark: FakePostmark, commit: Any
) -> None:
    plain = messages(4)
    for message in plain[::2]:
        message.server_token = NEWS_TOKEN
    assert send(plain, commit=commit) == 4
    assert states(run_tasks(queued)) == ["sent", "sent"]
    assert messages_per_token(fake_postmark) == {"default-token": 2, NEWS_TOKEN: 2}
    assert len(fake_postmark.requests) == 2  # one call per server
    sent_to = {
        message["To"]: request.headers["X-Postmark-Server-Token"]
        for request in fake_postmark.requests
        for message in fake_postmark.messages_in([request])
    }
    assert sent_to["user0@example.com"] == sent_to["user2@example.com"] == NEWS_TOKEN
    assert sent_to["user1@example.com"] == sent_to["user3@example.com"] == "default-token"


def test_the_batch_row_keeps_the_servers_label_and_never_its_token(
    servers: None, queued: Any, fake_postmark: FakePostmark, commit: Any
) -> None:
    send(messages(2, server_token=NEWS_TOKEN), commit=commit)
    [row] = QueuedBatch.objects.all()
    assert NEWS_TOKEN not in stored_rows()
    assert {entry["envelope"]["server"] for entry in row.messages} == {server_label(NEWS_TOKEN)}
    run_tasks(queued)
    assert NEWS_TOKEN not in stored_rows()  # nor once the results are written
    assert QueuedBatch.objects.get().state == "sent"


def test_the_log_records_the_servers_label_as_the_synchronous_backend_does(
    servers: None, queued: Any, fake_postmark: FakePostmark, commit: Any
) -> None:
    shop, plain = messages(2)
    shop.server_token = SHOP_TOKEN
    send([shop, plain], commit=commit)
    run_tasks(queued)
    logged = dict(Message.objects.values_list("to", "server"))
    assert logged == {"user0@example.com": server_label(SHOP_TOKEN), "user1@example.com": ""}
    assert Message.objects.filter(status="sent").count() == 2
    assert SHOP_TOKEN not in json.dumps(list(Message.objects.values()), default=str)


def test_a_bulk_message_for_a_listed_server_goes_as_one_bulk_call_with_its_token(
    servers: None, queued: Any, fake_postmark: FakePostmark, commit: Any
) -> None:
    fake_postmark.script(
        Reply(200, {"ID": "7e0c3a56-2f1b-4b7e-9a43-0c8e51d7a6f2", "Status": "Accepted"})
    )
    send(
        [news(["a@example.com", "b@example.com"], bulk=True, server_token=NEWS_TOKEN)],
        commit=commit,
    )
    assert NEWS_TOKEN not in stored_rows()
    run_tasks(queued)
    [request] = fake_postmark.requests
    assert request.path == "/email/bulk"
    assert request.headers["X-Postmark-Server-Token"] == NEWS_TOKEN
    assert set(Message.objects.values_list("server", flat=True)) == {server_label(NEWS_TOKEN)}


def test_a_batch_retried_later_still_goes_through_its_server(
    servers: None, queued: Any, fake_postmark: FakePostmark, commit: Any
) -> None:
    send(messages(1, server_token=NEWS_TOKEN), commit=commit)
    fake_postmark.script(Reply(503, {"ErrorCode": 0, "Message": "Down"}))
    assert states(run_tasks(queued)) == ["pending"]
    assert states(run_tasks(queued)) == ["sent"]
    tokens = [r.headers["X-Postmark-Server-Token"] for r in fake_postmark.requests]
    assert tokens == [NEWS_TOKEN, NEWS_TOKEN]


def test_test_mode_sends_a_queued_message_for_another_server_with_the_test_token(
    servers: None, settings: Any, queued: Any, fake_postmark: FakePostmark, commit: Any
) -> None:
    settings.POSTMARK_TEST_MODE = True
    send(messages(1, server_token=NEWS_TOKEN), commit=commit)
    run_tasks(queued)
    [request] = fake_postmark.requests
    assert request.headers["X-Postmark-Server-Token"] == TEST_TOKEN
    assert list(Message.objects.values_list("server", flat=True)) == [server_label(NEWS_TOKEN)]


def test_a_batch_abandoned_while_sending_is_logged_unknown_with_its_servers_label(
    servers: None, queued: Any, fake_postmark: FakePostmark, commit: Any
) -> None:
    send(messages(1, server_token=NEWS_TOKEN), commit=commit)
    then = timezone.now() - timedelta(minutes=30)
    QueuedBatch.objects.update(state="sending", claimed_at=then, created_at=then)
    call_command("postmark_recover")
    assert list(Message.objects.values_list("status", "server")) == [
        ("unknown", server_label(NEWS_TOKEN))
    ]
    assert fake_postmark.requests == [] and NEWS_TOKEN not in stored_rows()


@pytest.mark.parametrize("listed", [[], [SHOP_TOKEN]], ids=["none-listed", "another-listed"])
def test_an_unlisted_server_token_is_refused_in_the_caller_and_nothing_is_queued(
    settings: Any, queued: Any, fake_postmark: FakePostmark, commit: Any, listed: list[str]
) -> None:
    settings.POSTMARK_SERVER_TOKENS = listed
    with pytest.raises(UnsupportedMessageError) as refused:
        send([*messages(1), *messages(1, server_token=NEWS_TOKEN)], commit=commit)
    assert refused.value.field == "server_token"
    assert "POSTMARK_SERVER_TOKENS" in str(refused.value)
    assert NEWS_TOKEN not in str(refused.value)
    assert not QueuedBatch.objects.exists() and queued.results == []
    assert fake_postmark.requests == []


def test_a_server_token_removed_before_the_worker_runs_fails_its_batch_without_a_request(
    servers: None, settings: Any, queued: Any, fake_postmark: FakePostmark, commit: Any
) -> None:
    calls: list[dict[str, Any]] = []

    def record(sender: Any, **kwargs: Any) -> None:
        calls.append(kwargs)

    send(messages(2, server_token=NEWS_TOKEN), commit=commit)
    settings.POSTMARK_SERVER_TOKENS = [SHOP_TOKEN]
    signals.post_send.connect(record)
    try:
        assert states(run_tasks(queued)) == ["failed"]
    finally:
        signals.post_send.disconnect(record)
    assert fake_postmark.requests == []
    assert queued.results == []  # no retry is enqueued
    row = QueuedBatch.objects.get()
    assert (row.state, row.attempts) == ("failed", 1)
    assert server_label(NEWS_TOKEN) in row.error and "POSTMARK_SERVER_TOKENS" in row.error
    assert {entry["result"]["status"] for entry in row.messages} == {"failed"}
    assert {entry["result"]["message"] for entry in row.messages} == {row.error}
    [call] = calls
    assert str(call["exception"]) == row.error
    assert [result.status for result in call["results"]] == ["failed", "failed"]
    assert all(result.error is call["exception"] for result in call["results"])
    assert list(Message.objects.values_list("status", flat=True)) == ["failed", "failed"]


@given(
    st.one_of(
        st.text(),
        st.none(),
        st.integers(),
        st.dictionaries(st.text(min_size=1), st.text(min_size=1), min_size=1),
        st.sets(st.text(min_size=1), min_size=1),
        st.tuples(
            st.lists(st.text(min_size=1)),
            st.one_of(st.just(""), st.none(), st.integers(), st.binary(min_size=1)),
            st.lists(st.text(min_size=1)),
        ).map(lambda parts: [*parts[0], parts[1], *parts[2]]),
    )
)
def test_a_bad_server_tokens_setting_is_refused_naming_it(value: Any) -> None:
    with pytest.raises(ImproperlyConfigured, match="POSTMARK_SERVER_TOKENS"):
        PostmarkConf().configure_server_tokens(value)


@given(st.one_of(st.lists(st.text(min_size=1)), st.lists(st.text(min_size=1)).map(tuple)))
def test_a_list_or_tuple_of_tokens_is_taken_as_a_list(value: Any) -> None:
    assert PostmarkConf().configure_server_tokens(value) == list(value)
