"""Custom webhook headers in the sandbox: its Webhooks API keeps a webhook's ``HttpHeaders`` as
Postmark does, refuses what could not be sent, and its sender sends them with every event."""

from __future__ import annotations

from typing import Any

import pytest

from postmark.client import Client
from postmark.exceptions import PostmarkAPIError
from postmark.sandbox import Sandbox
from tests.support.sandbox_api import Receiver, send

pytestmark = pytest.mark.django_db

HEADERS = [
    {"Name": "X-Postmark-Webhook-Secret", "Value": "s3cret"},
    {"Name": "X-Env", "Value": "a"},
]


def hook(client: Client, receiver: Receiver, **fields: Any) -> dict[str, Any]:
    return client.create_webhook(
        {
            "Url": receiver.url,
            "MessageStream": "outbound",
            "HttpAuth": {"Username": "hook-user", "Password": "p@ss"},
            "Triggers": {"Bounce": {"Enabled": True}, "Delivery": {"Enabled": True}},
            **fields,
        }
    )


def test_a_webhooks_headers_are_kept_and_changed_only_when_given(
    postmark_sandbox: Sandbox, receiver: Receiver, client: Client
) -> None:
    created = hook(client, receiver, HttpHeaders=HEADERS)
    assert created["HttpHeaders"] == HEADERS
    edited = client.edit_webhook(created["ID"], {"Triggers": {"Open": {"Enabled": True}}})
    assert edited["HttpHeaders"] == HEADERS
    edited = client.edit_webhook(created["ID"], {"HttpHeaders": []})
    assert edited["HttpHeaders"] == []


def test_each_event_carries_its_webhooks_headers_through_its_retries(
    postmark_sandbox: Sandbox, receiver: Receiver, client: Client
) -> None:
    hook(client, receiver, HttpHeaders=HEADERS)
    receiver.statuses = [500]
    send(client, "hardbounce@bounce-testing.postmarkapp.com")
    deliveries = postmark_sandbox.wait_for_webhooks()
    assert {d.record_type for d in deliveries} == {"Bounce"}
    assert len(receiver.headers) == 2  # the first attempt and its retry
    for headers in receiver.headers:
        assert headers["X-Postmark-Webhook-Secret"] == "s3cret" and headers["X-Env"] == "a"
        assert headers["Content-Type"] == "application/json"  # its own headers win


@pytest.mark.parametrize(
    ("headers", "problem"),
    [
        ([{"Name": "X-A", "Value": "a\r\nX-Injected: 1"}], "one-line 'Value'"),
        ([{"Name": "X A", "Value": "a"}], "'Name'"),
        ([{"Name": "", "Value": "a"}], "'Name'"),
        ([{"Value": "a"}], "'Name'"),
        ([{"Name": "X-A", "Value": 1}], "one-line 'Value'"),
        (["X-A: a"], "'Name'"),
        ({"Name": "X-A", "Value": "a"}, "at most 30"),
        ([{"Name": f"X-{i}", "Value": "a"} for i in range(31)], "at most 30"),
    ],
)
def test_headers_that_could_not_be_sent_are_refused_and_nothing_changes(
    postmark_sandbox: Sandbox, receiver: Receiver, client: Client, headers: Any, problem: str
) -> None:
    created = hook(client, receiver, HttpHeaders=HEADERS)
    with pytest.raises(PostmarkAPIError, match=problem):
        client.edit_webhook(created["ID"], {"Url": "http://127.0.0.1:9/", "HttpHeaders": headers})
    assert client.request("GET", f"/webhooks/{created['ID']}")["HttpHeaders"] == HEADERS
    assert client.request("GET", f"/webhooks/{created['ID']}")["Url"] == receiver.url
    with pytest.raises(PostmarkAPIError, match=problem):
        hook(client, receiver, HttpHeaders=headers)
