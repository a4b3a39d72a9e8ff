"""The sandbox's Messages API after the fact: a message's details with its MessageEvents, the
opens and clicks endpoints, failed inbound mail listed and retried (through the app's client
and ``postmark_recover_events``)."""

from __future__ import annotations

import io
import time

import pytest
from django.core.mail import EmailMessage
from django.core.management import call_command

from postmark.client import Client
from postmark.exceptions import PostmarkAPIError
from postmark.operations.failed_inbound import failed_inbound
from postmark.sandbox import Sandbox
from tests.support.sandbox_api import Receiver

MIME = b"From: Ann <ann@example.org>\r\nTo: in@example.com\r\nSubject: Hi\r\n\r\nHello\r\n"


def sent(to: list[str]) -> str:
    mail = EmailMessage("Hello", "Hi", "shop@example.com", to)
    mail.send()
    return str(mail.postmark.message_id)  # type: ignore[attr-defined]


@pytest.mark.django_db
def test_details_list_each_event_as_it_happens_even_with_no_webhook_posted(
    postmark_sandbox: Sandbox, client: Client
) -> None:
    message_id = sent(["alice@example.com", "hardbounce@bounce-testing.postmarkapp.com"])
    postmark_sandbox.events.open(message_id)
    postmark_sandbox.events.click(message_id, "https://example.com/x")

    details = client.get_outbound_details(message_id)

    kinds = [(e["Type"], e["Recipient"]) for e in details["MessageEvents"]]
    assert kinds == [
        ("Delivered", "alice@example.com"),
        ("Bounced", "hardbounce@bounce-testing.postmarkapp.com"),
        ("Opened", "alice@example.com"),
        ("LinkClicked", "alice@example.com"),
    ]
    bounce_id = details["MessageEvents"][1]["Details"]["BounceID"]
    assert client.get_bounce(bounce_id)["MessageID"] == message_id
    assert details["MessageEvents"][3]["Details"]["Link"] == "https://example.com/x"
    assert not postmark_sandbox.webhook_deliveries  # no URL: nothing was posted


@pytest.mark.django_db
def test_opens_keep_the_first_open_only_and_clicks_every_click(
    postmark_sandbox: Sandbox, client: Client
) -> None:
    message_id = sent(["alice@example.com", "bob@example.com"])
    postmark_sandbox.events.open(message_id, "alice@example.com")
    postmark_sandbox.events.open(message_id, "alice@example.com", first=False)
    for link in ("https://example.com/1", "https://example.com/2"):
        postmark_sandbox.events.click(message_id, link, "bob@example.com")

    opens = client.get_message_opens(message_id)
    clicks = client.get_message_clicks(message_id, count=1, offset=1)

    assert opens["TotalCount"] == 1 and "FirstOpen" not in opens["Opens"][0]
    assert "Metadata" not in opens["Opens"][0] and opens["Opens"][0]["Geo"]["IP"]
    assert clicks["TotalCount"] == 2
    assert [c["OriginalLink"] for c in clicks["Clicks"]] == ["https://example.com/1"]
    everyone = client.request(
        "GET", "/messages/outbound/clicks", params={"count": 10, "offset": 0, "recipient": "x@y"}
    )
    assert everyone == {"TotalCount": 0, "Clicks": []}


@pytest.mark.django_db
def test_paging_beyond_postmarks_limits_is_refused(
    postmark_sandbox: Sandbox, client: Client
) -> None:
    message_id = sent(["alice@example.com"])
    with pytest.raises(PostmarkAPIError):
        client.get_message_opens(message_id, count=501)
    with pytest.raises(PostmarkAPIError):
        client.list_inbound(count=500, offset=9_600)


def wait_until(predicate: object, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate() and time.monotonic() < deadline:  # type: ignore[operator]
        time.sleep(0.02)


def test_failed_inbound_mail_is_listed_and_delivered_again(
    postmark_sandbox: Sandbox, receiver: Receiver, client: Client
) -> None:
    postmark_sandbox.inbound.url = receiver.url
    receiver.statuses = [500, 500, 500]  # the first delivery and both retries: failed
    delivery = postmark_sandbox.deliver_inbound(MIME)
    wait_until(lambda: delivery.state == "failed")

    [listed] = failed_inbound(client=client)
    assert (listed["Subject"], listed["Status"]) == ("Hi", "failed")
    out = io.StringIO()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Client, "from_settings", classmethod(lambda cls: client))
        call_command("postmark_recover_events", "--retry-inbound", stdout=out)
    assert "1 failed messages sent again" in out.getvalue()

    wait_until(lambda: len(receiver.received) == 4)
    assert receiver.received[-1][1]["Subject"] == "Hi"
    assert failed_inbound(client=client) == []
    with pytest.raises(PostmarkAPIError, match="Only a failed"):
        client.retry_inbound(listed["MessageID"])
