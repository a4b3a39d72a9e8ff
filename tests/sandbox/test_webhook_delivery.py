"""How the sandbox posts its webhooks: retried until 200, given up after the retries or on a
403, paused for a block, and each attempt shown on its page."""

from __future__ import annotations

import threading
import time

import pytest
import requests

from postmark.client import Client
from postmark.sandbox import Sandbox
from tests.support.sandbox_api import Receiver, send

pytestmark = pytest.mark.django_db


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


def test_a_pause_begun_while_a_webhook_is_being_posted_starts_once_it_is_answered(
    hooked: Sandbox, receiver: Receiver, client: Client
) -> None:
    receiver.answering.clear()
    send(client, "hardbounce@bounce-testing.postmarkapp.com")
    deadline = time.monotonic() + 5
    while not receiver.received and time.monotonic() < deadline:
        time.sleep(0.01)
    [delivery] = hooked.webhook_deliveries
    assert receiver.received and delivery.attempts == []  # being posted, not yet answered
    answer = threading.Timer(0.2, receiver.answering.set)
    answer.start()
    try:
        with hooked.webhooks.paused():
            # Nothing is being posted inside the block: the app may write undisturbed.
            assert [a.status for a in delivery.attempts] == [200]
            assert hooked.webhooks.idle()
    finally:
        answer.join()


def test_paused_webhooks_go_out_when_the_block_ends(
    hooked: Sandbox, receiver: Receiver, client: Client
) -> None:
    with hooked.webhooks.paused():
        send(client, "a@example.com")
        time.sleep(0.2)
        assert receiver.received == []
    hooked.wait_for_webhooks()
    assert [p["RecordType"] for p in receiver.payloads()] == ["Delivery"]
