"""The sandbox's Webhooks API, message streams, data removals and its webhook switch."""

from __future__ import annotations

import pytest
import requests

from postmark.client import Client
from postmark.exceptions import PostmarkAPIError
from postmark.sandbox import Sandbox
from tests.support import sandbox_mail

pytestmark = pytest.mark.django_db


def test_message_streams_are_listed(postmark_sandbox: Sandbox) -> None:
    streams = Client.from_settings().list_message_streams()
    assert [(s["ID"], s["MessageStreamType"]) for s in streams] == [
        ("outbound", "Transactional"),
        ("broadcast", "Broadcasts"),
        ("inbound", "Inbound"),
    ]


def test_webhooks_are_created_read_and_deleted(postmark_sandbox: Sandbox) -> None:
    client = Client.from_settings()
    created = client.create_webhook(
        {"Url": "http://127.0.0.1:9/hook/", "MessageStream": "outbound"}
    )
    assert client.request("GET", f"/webhooks/{created['ID']}")["Url"] == "http://127.0.0.1:9/hook/"
    client.delete_webhook(created["ID"])
    assert client.list_webhooks() == []
    with pytest.raises(PostmarkAPIError, match="HTTP 404"):
        client.delete_webhook(created["ID"])


def test_a_webhook_needs_a_url_and_known_triggers(postmark_sandbox: Sandbox) -> None:
    client = Client.from_settings()
    with pytest.raises(PostmarkAPIError, match="Url"):
        client.create_webhook({"Url": "ftp://x", "MessageStream": "outbound"})
    with pytest.raises(PostmarkAPIError, match="Unknown trigger"):
        client.create_webhook({"Url": "http://x/", "Triggers": {"Nope": {}}})


def test_data_removals_take_the_account_token_not_the_server_token(
    postmark_sandbox: Sandbox,
) -> None:
    with pytest.raises(PostmarkAPIError, match="Account token"):
        Client.from_settings().request_data_removal("a@example.com", "me@example.com")
    account = Client.for_account("any", base_url=postmark_sandbox.url)
    removal = account.request_data_removal("a@example.com", "me@example.com")
    assert removal["Status"] == "Pending"
    assert account.get_data_removal(removal["ID"])["Status"] == "Done"


def test_switching_webhooks_off_makes_the_site_miss_the_bounce(postmark_sandbox: Sandbox) -> None:
    postmark_sandbox.webhooks.url = "http://127.0.0.1:9/postmark/bounce/"
    answer = requests.put(f"{postmark_sandbox.url}/sandbox/webhooks", json={"Enabled": False})
    assert answer.json() == {"Enabled": False}
    sandbox_mail.bounce(["gone@example.com"])
    assert postmark_sandbox.bounces and not postmark_sandbox.webhook_deliveries
