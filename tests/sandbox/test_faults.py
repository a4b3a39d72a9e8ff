"""Faults on demand: the sandbox accepts a call and then drops the connection, answers 500 or
answers too late; or drops, 500s or 503s a call it never accepted. Planned from tests (Python)
and over HTTP, counted, and only ever on the sending endpoints."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from postmark.client import Client
from postmark.exceptions import (
    NetworkError,
    PostmarkTimeout,
    ServerError,
    is_safe_to_retry,
    may_have_been_sent,
)
from postmark.sandbox import Sandbox
from tests.support.sandbox_api import send

pytestmark = pytest.mark.django_db

HEADERS = {"X-Postmark-Server-Token": "t", "Accept": "application/json"}


def sent_to(sandbox: Sandbox) -> list[str]:
    return [address for message in sandbox.messages for address in message.to]


@pytest.mark.parametrize(
    ("fault", "error", "accepted"),
    [
        ("accept-drop", NetworkError, True),
        ("accept-500", ServerError, True),
        ("drop", NetworkError, False),
        ("500", ServerError, False),
    ],
)
def test_a_fault_leaves_the_client_unable_to_know_whether_the_message_went(
    postmark_sandbox: Sandbox, client: Client, fault: str, error: type[Exception], accepted: bool
) -> None:
    postmark_sandbox.faults.plan([fault])
    with pytest.raises(error) as raised:
        send(client, "ann@example.com")
    assert may_have_been_sent(raised.value)  # type: ignore[arg-type]
    assert sent_to(postmark_sandbox) == (["ann@example.com"] if accepted else [])
    assert postmark_sandbox.faults.applied == {fault: 1}
    # The next call, with no fault planned, is answered as usual.
    send(client, "bob@example.com")
    assert sent_to(postmark_sandbox)[-1] == "bob@example.com"


def test_a_slow_answer_comes_after_the_clients_deadline_and_the_message_was_accepted(
    postmark_sandbox: Sandbox,
) -> None:
    postmark_sandbox.faults.slow_seconds = 0.6
    postmark_sandbox.faults.plan(["accept-slow"])
    impatient = Client("t", base_url=postmark_sandbox.url, timeout=(0.2, 0.1), max_retries=0)
    with pytest.raises(PostmarkTimeout) as raised:
        send(impatient, "ann@example.com")
    assert may_have_been_sent(raised.value)
    assert sent_to(postmark_sandbox) == ["ann@example.com"]
    impatient.close()


def test_a_503_is_never_accepted_and_the_clients_retry_goes_through(
    postmark_sandbox: Sandbox,
) -> None:
    postmark_sandbox.faults.plan(["503", "503"])
    retrying = Client("t", base_url=postmark_sandbox.url, max_retries=2, retry_backoff=0)
    send(retrying, "ann@example.com")
    assert sent_to(postmark_sandbox) == ["ann@example.com"]
    assert postmark_sandbox.faults.applied == {"503": 2}
    retrying.close()


def test_a_503_tells_the_client_that_a_retry_is_safe(
    postmark_sandbox: Sandbox, client: Client
) -> None:
    postmark_sandbox.faults.plan(["503"])
    with pytest.raises(ServerError) as raised:
        send(client, "ann@example.com")
    assert is_safe_to_retry(raised.value)
    assert sent_to(postmark_sandbox) == []


def test_faults_apply_to_the_calls_in_the_order_planned_and_to_batches_whole(
    postmark_sandbox: Sandbox, client: Client
) -> None:
    postmark_sandbox.faults.plan([None, "accept-500", None])
    send(client, "a@example.com")
    with pytest.raises(ServerError):
        client.send_batch(
            [{"From": "shop@example.com", "To": f"{n}@example.com", "TextBody": "x"} for n in "bc"]
        )
    send(client, "d@example.com")
    assert sent_to(postmark_sandbox) == [
        "a@example.com",
        "b@example.com",
        "c@example.com",
        "d@example.com",
    ]
    assert postmark_sandbox.faults.planned == []


def test_faults_leave_every_other_endpoint_alone(postmark_sandbox: Sandbox, client: Client) -> None:
    postmark_sandbox.faults.plan(["500"])
    assert client.search_outbound()["TotalCount"] == 0
    assert client.get_bounces()["TotalCount"] == 0
    assert postmark_sandbox.faults.planned == ["500"]


def test_the_sandbox_counts_the_copies_it_accepted_of_each_id(
    postmark_sandbox: Sandbox, client: Client
) -> None:
    send(client, "a@example.com", Metadata={"id": "1"})
    send(client, "b@example.com", Metadata={"id": "1"})
    send(client, "c@example.com", Metadata={"id": "2", "other": "x"})
    send(client, "d@example.com")
    assert postmark_sandbox.copies("id") == {"1": 2, "2": 1}


@pytest.mark.parametrize("fault", ["accept-drop", "accept-500"])
def test_a_faulted_call_withholds_its_messages_webhooks_when_told_and_no_others(
    postmark_sandbox: Sandbox, client: Client, fault: str
) -> None:
    postmark_sandbox.webhooks.url = "http://127.0.0.1:9/hook"  # scheduled (and listed) all the same
    postmark_sandbox.faults.webhooks = False
    postmark_sandbox.faults.plan([fault])
    with pytest.raises((NetworkError, ServerError)):
        send(client, "ann@example.com")
    send(client, "bob@example.com")  # no fault: its webhook goes as usual
    hooks = [(d.record_type, d.payload["Recipient"]) for d in postmark_sandbox.webhook_deliveries]
    assert hooks == [("Delivery", "bob@example.com")]
    assert sent_to(postmark_sandbox) == ["ann@example.com", "bob@example.com"]
    # Delivered all the same: its details say so, as Postmark's would.
    ann = postmark_sandbox.messages[0].message_id
    events = client.request("GET", f"/messages/outbound/{ann}/details")["MessageEvents"]
    assert [event["Type"] for event in events] == ["Delivered"]


def test_a_faulted_call_keeps_its_webhooks_by_default(
    postmark_sandbox: Sandbox, client: Client
) -> None:
    postmark_sandbox.webhooks.url = "http://127.0.0.1:9/hook"
    postmark_sandbox.faults.plan(["accept-drop"])
    with pytest.raises(NetworkError):
        send(client, "ann@example.com")
    assert [d.payload["Recipient"] for d in postmark_sandbox.webhook_deliveries] == [
        "ann@example.com"
    ]


def test_an_unknown_fault_is_refused_when_planned(postmark_sandbox: Sandbox) -> None:
    with pytest.raises(ValueError, match="Unknown fault 'explode'"):
        postmark_sandbox.faults.plan(["explode"])
    assert postmark_sandbox.faults.planned == []


# --- Over HTTP: PUT and GET /sandbox/faults --------------------------------------------------


def control(sandbox: Sandbox, method: str, body: Any = None) -> requests.Response:
    return requests.request(
        method, f"{sandbox.url}/sandbox/faults", json=body, headers=HEADERS, timeout=5
    )


def test_faults_are_planned_and_read_over_http(postmark_sandbox: Sandbox, client: Client) -> None:
    answer = control(
        postmark_sandbox,
        "PUT",
        {"Faults": ["accept-drop", None], "SlowSeconds": 2, "IndexDelay": 1.5},
    )
    assert answer.status_code == 200
    assert answer.json() == {
        "Faults": ["accept-drop", None],
        "SlowSeconds": 2.0,
        "IndexDelay": 1.5,
        "Webhooks": True,
        "Applied": {},
    }
    with pytest.raises(NetworkError):
        send(client, "ann@example.com")
    state = control(postmark_sandbox, "GET").json()
    assert (state["Faults"], state["Applied"]) == ([None], {"accept-drop": 1})
    # A new plan replaces what was left of the old one.
    assert control(postmark_sandbox, "PUT", {"Faults": []}).json()["Faults"] == []
    assert control(postmark_sandbox, "PUT", {"Webhooks": False}).json()["Webhooks"] is False
    assert postmark_sandbox.faults.webhooks is False


@pytest.mark.parametrize(
    "body",
    [
        ["accept-drop"],
        {"Faults": "accept-drop"},
        {"Faults": ["explode"]},
        {"Faults": [["accept-drop"]]},
        {"SlowSeconds": -1},
        {"IndexDelay": "soon"},
        {"SlowSeconds": True},
        {"Faults": [], "Webhooks": "no"},
    ],
)
def test_a_bad_plan_over_http_gets_a_4xx_and_changes_nothing(
    postmark_sandbox: Sandbox, body: Any
) -> None:
    postmark_sandbox.faults.plan(["500"])
    answer = control(postmark_sandbox, "PUT", body)
    assert 400 <= answer.status_code < 500
    assert postmark_sandbox.faults.planned == ["500"]
    assert postmark_sandbox.faults.index_delay == 0.0
    assert postmark_sandbox.faults.webhooks is True


def test_a_plan_that_is_not_json_gets_a_4xx(postmark_sandbox: Sandbox) -> None:
    answer = requests.put(
        f"{postmark_sandbox.url}/sandbox/faults", data=b"{", headers=HEADERS, timeout=5
    )
    assert answer.status_code == 422


def test_faults_planned_for_some_endpoints_leave_the_others_answered_as_usual(
    postmark_sandbox: Sandbox, client: Client
) -> None:
    postmark_sandbox.faults.paths = frozenset({"/email/batch"})
    postmark_sandbox.faults.plan(["drop"])
    send(client, "ann@example.com")  # /email: not a planned endpoint
    assert postmark_sandbox.faults.planned == ["drop"]
    with pytest.raises(NetworkError):
        client.send_batch([{"From": "s@example.com", "To": "bob@example.com", "TextBody": "b"}])
    assert sent_to(postmark_sandbox) == ["ann@example.com"]
    assert postmark_sandbox.faults.applied == {"drop": 1}
