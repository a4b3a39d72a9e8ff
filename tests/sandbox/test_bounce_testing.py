"""Bounce testing as Postmark does it: a bounce-testing address or the X-PM-Bounce-Type header
bounces the message, with the webhook Postmark would post and the suppression it would make."""

from __future__ import annotations

import re

import pytest

from postmark.api.spec import BOUNCE_TYPES
from postmark.api.timestamps import parse_timestamp
from postmark.client import Client
from postmark.exceptions import InvalidRequestError
from postmark.sandbox import Sandbox
from tests.support.sandbox_api import Receiver, send
from tests.support.webhook_helpers import basic_auth

pytestmark = pytest.mark.django_db


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
    assert authorization == basic_auth("hook-user", "p@ss")
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
