"""The sandbox's outbound message search (``GET /messages/outbound``): Postmark's filters, one
metadata field per search, its paging limits, newest first, and the index delay."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone

import pytest
import requests
from hypothesis import given
from hypothesis import strategies as st

from postmark.api.timestamps import eastern_time
from postmark.client import Client
from postmark.exceptions import InvalidRequestError
from postmark.sandbox import Sandbox
from tests.support.sandbox_api import send

pytestmark = pytest.mark.django_db


def ids(answer: dict[str, object]) -> list[str]:
    return [str(m["MessageID"]) for m in answer["Messages"]]  # type: ignore[attr-defined, index]


def test_a_message_is_found_by_one_metadata_field(
    postmark_sandbox: Sandbox, client: Client
) -> None:
    send(client, "ann@example.com", Metadata={"order": "7", "shop": "acme"})
    send(client, "bob@example.com", Metadata={"order": "8", "shop": "acme"})
    [ann, bob] = [m.message_id for m in postmark_sandbox.messages]
    assert ids(client.search_outbound(metadata=("order", "7"))) == [ann]
    # Names compare as Postmark keeps them, whatever their case; values exactly.
    assert ids(client.search_outbound(metadata=("ORDER", "8"))) == [bob]
    assert client.search_outbound(metadata=("order", "7 "))["TotalCount"] == 0
    found = client.search_outbound(metadata=("shop", "acme"))
    assert (found["TotalCount"], ids(found)) == (2, [bob, ann])  # newest first


def test_a_found_message_is_listed_with_postmarks_fields(client: Client) -> None:
    send(client, "Ann <ann@example.com>", Cc="cc@example.com", Tag="t", Metadata={"k": "v"})
    [message] = client.search_outbound(metadata=("k", "v"))["Messages"]
    assert {
        "MessageID",
        "Tag",
        "To",
        "Cc",
        "Bcc",
        "Recipients",
        "ReceivedAt",
        "From",
        "Subject",
        "Attachments",
        "Status",
        "TrackOpens",
        "TrackLinks",
        "Metadata",
        "MessageStream",
    } <= set(message)
    assert message["To"] == [{"Email": "ann@example.com", "Name": None}]
    assert message["Recipients"] == ["ann@example.com", "cc@example.com"]
    assert (message["Tag"], message["Metadata"], message["Status"]) == ("t", {"k": "v"}, "Sent")
    assert message["MessageStream"] == "outbound"


def test_messages_are_searched_by_recipient_sender_tag_subject_stream_and_status(
    client: Client,
) -> None:
    send(client, "ann@example.com", Tag="welcome", Subject="Hello Ann")
    send(client, "bob@example.com", Bcc="ann@example.com", Tag="news", MessageStream="broadcast")
    assert client.search_outbound(recipient="ANN@example.com")["TotalCount"] == 2
    assert client.search_outbound(recipient="bob@example.com")["TotalCount"] == 1
    assert client.search_outbound(fromemail="shop@example.com")["TotalCount"] == 2
    assert client.search_outbound(fromemail="other@example.com")["TotalCount"] == 0
    assert client.search_outbound(tag="welcome")["TotalCount"] == 1
    assert client.search_outbound(subject="hello")["TotalCount"] == 1
    assert client.search_outbound(messagestream="broadcast")["TotalCount"] == 1
    assert client.search_outbound(status="sent")["TotalCount"] == 2
    assert client.search_outbound(status="queued")["TotalCount"] == 0


def test_dates_without_an_offset_are_read_in_eastern_time(
    postmark_sandbox: Sandbox, client: Client
) -> None:
    send(client, "ann@example.com")
    sent = postmark_sandbox.messages[0].submitted_at
    eastern = timezone(timedelta(hours=-5))
    before = (sent - timedelta(minutes=1)).astimezone(eastern).strftime("%Y-%m-%dT%H:%M:%S")
    after = (sent + timedelta(minutes=1)).astimezone(eastern).strftime("%Y-%m-%dT%H:%M:%S")
    assert client.search_outbound(fromdate=before, todate=after)["TotalCount"] == 1
    assert client.search_outbound(fromdate=after)["TotalCount"] == 0
    assert client.search_outbound(todate=before)["TotalCount"] == 0
    # The app's own form: a moment as Postmark reads it, at most an hour early, never late.
    assert client.search_outbound(fromdate=eastern_time(sent))["TotalCount"] == 1


@given(
    st.datetimes(datetime(1970, 1, 2), datetime(9998, 12, 31), timezones=st.just(UTC)),
)
def test_a_search_date_the_app_writes_never_narrows_the_range_in_either_eastern_offset(
    moment: datetime,
) -> None:
    # Postmark reads the date as Eastern wall time: UTC-5, or UTC-4 in daylight time.
    for hours in (-5, -4):
        zone = timezone(timedelta(hours=hours))
        assert datetime.fromisoformat(eastern_time(moment)).replace(tzinfo=zone) <= moment
        assert datetime.fromisoformat(eastern_time(moment, end=True)).replace(tzinfo=zone) >= moment


@pytest.mark.parametrize(
    "sent",
    [
        datetime(2026, 7, 1, 12, 0, 0, 500000, tzinfo=UTC),  # daylight time
        datetime(2026, 1, 15, 12, 0, 0, 500000, tzinfo=UTC),  # standard time
        datetime(2026, 11, 1, 5, 30, tzinfo=UTC),  # 01:30 happens twice there
        datetime(2026, 3, 8, 7, 30, tzinfo=UTC),  # 02:30 never happens there
    ],
)
def test_a_message_is_found_between_the_dates_of_its_own_send_all_year(
    postmark_sandbox: Sandbox, client: Client, sent: datetime
) -> None:
    send(client, "ann@example.com")
    [message] = postmark_sandbox.messages
    message.submitted_at = sent
    found = client.search_outbound(fromdate=eastern_time(sent), todate=eastern_time(sent, end=True))
    assert found["TotalCount"] == 1


def test_pages_follow_count_and_offset(client: Client) -> None:
    for n in range(5):
        send(client, f"u{n}@example.com", Tag="paged")
    every = ids(client.search_outbound(tag="paged"))
    assert ids(client.search_outbound(tag="paged", count=2, offset=1)) == every[1:3]
    assert client.search_outbound(tag="paged", count=2, offset=4)["TotalCount"] == 5


@pytest.mark.parametrize(
    "query",
    [
        "",
        "count=10",
        "count=0&offset=0",
        "count=501&offset=0",
        "count=500&offset=9501",
        "count=1&offset=-1",
        "count=1&offset=0&status=bounced",
        "count=1&offset=0&fromdate=soon",
        "count=1&offset=0&metadata_a=1&metadata_b=2",
    ],
)
def test_a_search_outside_postmarks_rules_is_refused(postmark_sandbox: Sandbox, query: str) -> None:
    answer = requests.get(
        f"{postmark_sandbox.url}/messages/outbound?{query}",
        headers={"X-Postmark-Server-Token": "t", "Accept": "application/json"},
        timeout=5,
    )
    assert answer.status_code == 422
    assert answer.json()["ErrorCode"] == 403


def test_the_widest_window_postmark_allows_is_answered(postmark_sandbox: Sandbox) -> None:
    answer = requests.get(
        f"{postmark_sandbox.url}/messages/outbound?count=500&offset=9500",
        headers={"X-Postmark-Server-Token": "t", "Accept": "application/json"},
        timeout=5,
    )
    assert answer.json() == {"TotalCount": 0, "Messages": []}


#: The windows Postmark refuses: a count outside 1-500, a negative offset, or past the 10,000th.
refused_windows = st.one_of(
    st.tuples(st.integers(max_value=0) | st.integers(min_value=501), st.integers()),
    st.tuples(st.integers(1, 500), st.integers(max_value=-1)),
    st.integers(1, 500).flatmap(lambda n: st.tuples(st.just(n), st.integers(10_001 - n))),
)


@given(window=refused_windows)
def test_the_client_refuses_what_postmark_would_before_asking(window: tuple[int, int]) -> None:
    count, offset = window
    client = Client("t", base_url="http://127.0.0.1:9", max_retries=0)  # nothing listens there
    with pytest.raises(ValueError, match="count from 1 to 500"):
        client.search_outbound(count=count, offset=offset)


def test_a_message_shows_in_the_search_only_after_the_index_delay(
    postmark_sandbox: Sandbox, client: Client
) -> None:
    postmark_sandbox.faults.index_delay = 0.3
    send(client, "ann@example.com", Metadata={"k": "v"})
    assert client.search_outbound(metadata=("k", "v"))["TotalCount"] == 0
    time.sleep(0.35)
    assert client.search_outbound(metadata=("k", "v"))["TotalCount"] == 1


def test_messages_sent_with_the_test_token_are_never_found(postmark_sandbox: Sandbox) -> None:
    test = Client("POSTMARK_API_TEST", base_url=postmark_sandbox.url, max_retries=0)
    send(test, "ann@example.com", Metadata={"k": "v"})
    assert test.search_outbound(metadata=("k", "v"))["TotalCount"] == 0
    test.close()


def test_metadata_postmark_would_refuse_is_refused(client: Client) -> None:
    with pytest.raises(InvalidRequestError, match="limited to 20 characters"):
        send(client, "ann@example.com", Metadata={"k" * 21: "v"})
    with pytest.raises(InvalidRequestError, match="limited to 20 characters"):
        send(client, "ann@example.com", Metadata={"k": "v" * 81})
    with pytest.raises(InvalidRequestError, match="at most 10 fields"):
        send(client, "ann@example.com", Metadata={f"k{n}": "v" for n in range(11)})
    send(client, "ann@example.com", Metadata={f"k{n:<19}": "v" * 80 for n in range(10)})
