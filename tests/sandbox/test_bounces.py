"""Bounce testing as Postmark does it, the webhooks the sandbox POSTs, and its bounces and
suppressions endpoints, checked over real HTTP with our own API client."""

from __future__ import annotations

import base64
import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from postmark.client import Client
from postmark.exceptions import InvalidRequestError
from postmark.facts import BOUNCE_TYPES
from postmark.sandbox import Sandbox
from postmark.timestamps import parse_timestamp

pytestmark = pytest.mark.django_db


@dataclass
class Receiver:
    """An HTTP endpoint that records webhooks and answers the scripted statuses, then 200."""

    url: str = ""
    received: list[tuple[str | None, dict[str, Any]]] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)

    def payloads(self, record_type: str | None = None) -> list[dict[str, Any]]:
        return [p for _, p in self.received if record_type in (None, p.get("RecordType"))]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    target = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            target.received.append((self.headers.get("Authorization"), body))
            status = target.statuses.pop(0) if target.statuses else 200
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    target.url = f"http://127.0.0.1:{server.server_port}/postmark/bounce/"
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}).start()
    yield target
    server.shutdown()
    server.server_close()


@pytest.fixture
def hooked(postmark_sandbox: Sandbox, receiver: Receiver) -> Sandbox:
    """The sandbox, posting its webhooks with basic auth to the receiver."""
    postmark_sandbox.webhooks.url = receiver.url.replace("http://", "http://hook-user:p%40ss@")
    return postmark_sandbox


@pytest.fixture
def client(postmark_sandbox: Sandbox) -> Iterator[Client]:
    api = Client("server-token", base_url=postmark_sandbox.url, max_retries=0)
    yield api
    api.close()


def send(client: Client, to: str, **fields: Any) -> dict[str, Any]:
    return client.send({"From": "Shop <shop@example.com>", "To": to, "TextBody": "Hi", **fields})


@pytest.mark.parametrize(
    ("local_part", "bounce_type"),
    [
        ("hardbounce", "HardBounce"),
        ("HardBounce", "HardBounce"),
        ("Hard_Bounce", "HardBounce"),
        ("softbounce", "SoftBounce"),
        ("transient", "Transient"),
        ("blocked", "Blocked"),
        ("spamnotification", "SpamNotification"),
        ("DNS_ERROR", "DnsError"),
    ]
    + [(name.lower(), name) for name in BOUNCE_TYPES if name != "SpamComplaint"],
)
def test_bounce_testing_address_posts_a_bounce_webhook_with_basic_auth(
    hooked: Sandbox, receiver: Receiver, client: Client, local_part: str, bounce_type: str
) -> None:
    address = f"{local_part}@bounce-testing.postmarkapp.com"
    result = send(client, address, Tag="welcome", Metadata={"order": "7"}, Subject="Hello")
    [delivery] = hooked.wait_for_webhooks()
    assert delivery.state == "delivered" and delivery.last_status == 200
    [(authorization, payload)] = receiver.received
    assert authorization == "Basic " + base64.b64encode(b"hook-user:p@ss").decode()
    expected = BOUNCE_TYPES[bounce_type]
    assert payload["RecordType"] == "Bounce"
    assert (payload["Type"], payload["TypeCode"], payload["Name"]) == (
        bounce_type,
        expected.code,
        expected.label,
    )
    assert payload["Email"] == address.lower()
    assert payload["MessageID"] == result["MessageID"]
    assert (payload["Tag"], payload["Metadata"], payload["Subject"]) == (
        "welcome",
        {"order": "7"},
        "Hello",
    )
    assert payload["From"] == "shop@example.com" and payload["MessageStream"] == "outbound"
    assert isinstance(payload["ID"], int) and payload["DumpAvailable"] is True
    assert re.fullmatch(r".+T\d\d:\d\d:\d\d\.\d{7}Z", payload["BouncedAt"])
    assert parse_timestamp(payload["BouncedAt"]) is not None
    assert payload["Inactive"] is expected.deactivates
    assert payload["CanActivate"] is True


def test_hard_bounce_suppresses_the_address_so_the_next_send_is_406(
    hooked: Sandbox, client: Client
) -> None:
    send(client, "hardbounce@bounce-testing.postmarkapp.com")
    with pytest.raises(InvalidRequestError) as caught:
        send(client, "HardBounce@bounce-testing.postmarkapp.com")
    assert caught.value.error_code == 406
    [suppression] = client.get_suppressions("outbound")
    assert suppression["EmailAddress"] == "hardbounce@bounce-testing.postmarkapp.com"
    assert (suppression["SuppressionReason"], suppression["Origin"]) == ("HardBounce", "Recipient")


def test_soft_bounce_does_not_suppress(hooked: Sandbox, client: Client) -> None:
    send(client, "softbounce@bounce-testing.postmarkapp.com")
    assert send(client, "softbounce@bounce-testing.postmarkapp.com")["ErrorCode"] == 0
    assert client.get_suppressions() == []


def test_spam_complaint_posts_a_spam_complaint_record_and_suppresses(
    hooked: Sandbox, receiver: Receiver, client: Client
) -> None:
    send(client, "spam_complaint@bounce-testing.postmarkapp.com")
    hooked.wait_for_webhooks()
    [payload] = receiver.payloads()
    assert (payload["RecordType"], payload["Type"], payload["TypeCode"]) == (
        "SpamComplaint",
        "SpamComplaint",
        100001,
    )
    assert payload["Inactive"] is True and payload["CanActivate"] is False
    assert client.get_suppressions()[0]["SuppressionReason"] == "SpamComplaint"


def test_other_addresses_get_a_delivery_webhook_per_recipient(
    hooked: Sandbox, receiver: Receiver, client: Client
) -> None:
    result = send(client, "a@example.com", Cc="B@example.com", Tag="t")
    hooked.wait_for_webhooks()
    payloads = receiver.payloads("Delivery")
    assert sorted(p["Recipient"] for p in payloads) == ["a@example.com", "b@example.com"]
    assert all(p["MessageID"] == result["MessageID"] and p["Tag"] == "t" for p in payloads)
    assert all(parse_timestamp(p["DeliveredAt"]) for p in payloads)
    assert client.get_bounces()["TotalCount"] == 0


def test_bounce_type_header_bounces_the_message(
    hooked: Sandbox, receiver: Receiver, client: Client
) -> None:
    headers = [{"Name": "X-PM-Bounce-Type", "Value": "SoftBounce"}]
    send(client, "anyone@bounce-testing.postmarkapp.com", Headers=headers)
    hooked.wait_for_webhooks()
    assert [p["Type"] for p in receiver.payloads()] == ["SoftBounce"]


def test_test_token_validates_but_sends_no_webhook(hooked: Sandbox, receiver: Receiver) -> None:
    test_client = Client("POSTMARK_API_TEST", base_url=hooked.url)
    send(test_client, "hardbounce@bounce-testing.postmarkapp.com")
    assert hooked.wait_for_webhooks() == [] and receiver.received == []
    assert hooked.suppressions == []


def test_failing_webhook_is_retried_and_its_statuses_shown(
    hooked: Sandbox, receiver: Receiver, client: Client
) -> None:
    receiver.statuses = [500, 503]
    send(client, "hardbounce@bounce-testing.postmarkapp.com")
    [delivery] = hooked.wait_for_webhooks()
    assert [a.status for a in delivery.attempts] == [500, 503, 200]
    assert delivery.state == "delivered"
    assert len(receiver.received) == 3 and receiver.received[0] == receiver.received[2]
    page = requests.get(hooked.url + "/", timeout=5).text
    assert "500, 503, 200" in page


def test_webhook_gives_up_after_the_retries(
    hooked: Sandbox, receiver: Receiver, client: Client
) -> None:
    receiver.statuses = [500, 500, 500, 500]
    send(client, "a@example.com")
    [delivery] = hooked.wait_for_webhooks()
    assert (delivery.state, len(delivery.attempts)) == ("failed", 3)
    assert "failed" in requests.get(hooked.url + "/", timeout=5).text


def test_403_stops_the_retries(hooked: Sandbox, receiver: Receiver, client: Client) -> None:
    receiver.statuses = [403]
    send(client, "a@example.com")
    [delivery] = hooked.wait_for_webhooks()
    assert (delivery.state, [a.status for a in delivery.attempts]) == ("failed", [403])


def test_unreachable_webhook_url_is_shown_as_no_answer(
    postmark_sandbox: Sandbox, client: Client
) -> None:
    postmark_sandbox.webhooks.url = "http://127.0.0.1:9/postmark/bounce/"
    send(client, "a@example.com")
    [delivery] = postmark_sandbox.wait_for_webhooks()
    assert delivery.state == "failed"
    assert all(a.status is None and a.error for a in delivery.attempts)


def test_page_lists_messages_bounces_suppressions_and_webhooks(
    hooked: Sandbox, client: Client
) -> None:
    send(client, "hardbounce@bounce-testing.postmarkapp.com", Subject="<b>escaped</b>")
    hooked.wait_for_webhooks()
    page = requests.get(hooked.url + "/", timeout=5)
    assert page.headers["Content-Type"].startswith("text/html")
    for heading in ("Messages (1)", "Bounces (1)", "Suppressions (1)", "Webhook deliveries (1)"):
        assert heading in page.text
    assert "&lt;b&gt;escaped&lt;/b&gt;" in page.text and "<b>escaped" not in page.text
    assert "p%40ss" not in page.text and "p@ss" not in page.text  # the password is not shown
    state = requests.get(hooked.url + "/sandbox/state.json", timeout=5).json()
    assert state["bounces"][0]["Type"] == "HardBounce"
    assert state["webhooks"][0]["Statuses"] == [200]


# --- Bounces API ---------------------------------------------------------------------------


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
    assert (caught.value.http_status, caught.value.error_code) == (404, 407)


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


# --- Suppressions API ----------------------------------------------------------------------


def test_manual_suppressions_are_created_listed_filtered_and_deleted(
    postmark_sandbox: Sandbox, client: Client
) -> None:
    statuses = client.create_suppressions(["Ann@Example.com", "not-an-address"])
    assert statuses == [
        {"EmailAddress": "ann@example.com", "Status": "Suppressed", "Message": None},
        {
            "EmailAddress": "not-an-address",
            "Status": "Failed",
            "Message": "An invalid email address was provided.",
        },
    ]
    with pytest.raises(InvalidRequestError) as caught:
        send(client, "ann@example.com")
    assert caught.value.error_code == 406
    [listed] = client.get_suppressions(SuppressionReason="ManualSuppression", Origin="Customer")
    assert listed["EmailAddress"] == "ann@example.com"
    assert client.get_suppressions(EmailAddress="ANN@example.com") == [listed]
    assert client.get_suppressions(SuppressionReason="HardBounce") == []
    assert client.get_suppressions("broadcast") == []
    assert client.delete_suppressions(["ann@example.com"])[0]["Status"] == "Deleted"
    assert send(client, "ann@example.com")["ErrorCode"] == 0


def test_spam_complaint_suppression_cannot_be_deleted(
    postmark_sandbox: Sandbox, client: Client
) -> None:
    send(client, "spamcomplaint@bounce-testing.postmarkapp.com")
    [status] = client.delete_suppressions(["spamcomplaint@bounce-testing.postmarkapp.com"])
    assert status["Status"] == "Failed"
    assert len(client.get_suppressions()) == 1


def test_unknown_stream_and_bad_suppression_bodies_are_refused(
    postmark_sandbox: Sandbox, client: Client
) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        client.get_suppressions("no-such-stream")
    assert caught.value.error_code == 1235
    with pytest.raises(InvalidRequestError) as caught:
        client.request("POST", "/message-streams/outbound/suppressions", json_body=["x"])
    assert caught.value.error_code == 402
    with pytest.raises(InvalidRequestError) as caught:
        client.create_suppressions([f"a{n}@example.com" for n in range(51)])
    assert caught.value.error_code == 403


def test_paused_webhooks_go_out_when_the_block_ends(
    hooked: Sandbox, receiver: Receiver, client: Client
) -> None:
    import time

    with hooked.webhooks.paused():
        send(client, "a@example.com")
        time.sleep(0.2)
        assert receiver.received == []
    hooked.wait_for_webhooks()
    assert [p["RecordType"] for p in receiver.payloads()] == ["Delivery"]
