"""The sandbox's bounces endpoints: listing with filters and paging, one bounce and its dump,
activation."""

from __future__ import annotations

import pytest
import requests

from postmark.client import Client
from postmark.exceptions import InvalidRequestError
from postmark.sandbox import Sandbox
from tests.support.sandbox_api import send

pytestmark = pytest.mark.django_db


def test_bounce_ids_differ_between_sandbox_runs() -> None:
    ids = []
    for _ in range(2):
        with Sandbox() as sandbox:
            other = Client("token", base_url=sandbox.url)
            send(other, "hardbounce@bounce-testing.postmarkapp.com")
            ids.append(other.get_bounces()["Bounces"][0]["ID"])
            other.close()
    assert ids[0] != ids[1]


def test_bounces_are_listed_newest_first_with_filters_and_paging(
    postmark_sandbox: Sandbox, client: Client
) -> None:
    for local in ("hardbounce", "softbounce", "transient", "softbounce"):
        send(client, f"{local}@bounce-testing.postmarkapp.com", Tag=local)
    first = postmark_sandbox.bounces[0].id
    page = client.get_bounces(count=2, offset=0)
    assert page["TotalCount"] == 4
    assert [b["ID"] for b in page["Bounces"]] == [first + 3, first + 2]
    assert [b["ID"] for b in client.get_bounces(count=2, offset=2)["Bounces"]] == [first + 1, first]
    assert client.get_bounces(type="SoftBounce")["TotalCount"] == 2
    assert client.get_bounces(inactive="true")["TotalCount"] == 1
    assert client.get_bounces(emailFilter="TRANSIENT")["TotalCount"] == 1
    assert client.get_bounces(tag="hardbounce")["TotalCount"] == 1
    assert client.get_bounces(messageStream="broadcast")["TotalCount"] == 0
    assert client.get_bounces(fromdate="2000-01-01", todate="2999-12-31")["TotalCount"] == 4
    assert client.get_bounces(todate="2000-01-01")["TotalCount"] == 0
    message_id = postmark_sandbox.messages[0].message_id
    assert client.get_bounces(messageID=message_id)["Bounces"][0]["Type"] == "HardBounce"
    assert len(list(client.iter_bounces())) == 4


@pytest.mark.parametrize(
    "query",
    [
        "",
        "count=10",
        "count=0&offset=0",
        "count=501&offset=0",
        "count=1&offset=-1",
        "count=x&offset=0",
        "count=1&offset=0&inactive=maybe",
        "count=1&offset=0&fromdate=soon",
    ],
)
def test_bad_bounce_queries_are_refused(postmark_sandbox: Sandbox, query: str) -> None:
    answer = requests.get(
        f"{postmark_sandbox.url}/bounces?{query}",
        headers={"X-Postmark-Server-Token": "t", "Accept": "application/json"},
        timeout=5,
    )
    assert (answer.status_code, answer.json()["ErrorCode"]) == (422, 403)


def test_bounce_by_id_and_its_dump(postmark_sandbox: Sandbox, client: Client) -> None:
    send(client, "hardbounce@bounce-testing.postmarkapp.com", Subject="Order 7")
    bounce_id = postmark_sandbox.bounces[0].id
    bounce = client.get_bounce(bounce_id)
    assert bounce["Type"] == "HardBounce" and bounce["Email"].startswith("hardbounce@")
    dump = client.get_bounce_dump(bounce_id)
    assert "Subject: Order 7" in dump and "To: hardbounce@bounce-testing.postmarkapp.com" in dump
    with pytest.raises(InvalidRequestError) as caught:
        client.get_bounce(bounce_id + 1)
    assert (caught.value.http_status, caught.value.error_code) == (422, 407)


def test_activating_a_hard_bounce_lets_the_address_receive_again(
    postmark_sandbox: Sandbox, client: Client
) -> None:
    send(client, "hardbounce@bounce-testing.postmarkapp.com")
    answer = client.activate_bounce(postmark_sandbox.bounces[0].id)
    assert answer["Message"] == "OK" and answer["Bounce"]["Inactive"] is False
    assert client.get_suppressions() == []
    assert send(client, "hardbounce@bounce-testing.postmarkapp.com")["ErrorCode"] == 0


def test_spam_complaint_cannot_be_activated(postmark_sandbox: Sandbox, client: Client) -> None:
    send(client, "spamcomplaint@bounce-testing.postmarkapp.com")
    with pytest.raises(InvalidRequestError) as caught:
        client.activate_bounce(postmark_sandbox.bounces[0].id)
    assert caught.value.error_code == 1003
    assert len(client.get_suppressions()) == 1
