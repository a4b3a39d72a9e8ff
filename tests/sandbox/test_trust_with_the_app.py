"""The secret header and the allowlist end to end, over real HTTP both ways: ``postmark_webhooks``
sets the webhook up in the sandbox, the sandbox posts the bounce with its headers to the app on a
live server, and the app stores it, or refuses it and stores nothing."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.core.management import call_command
from pytest_django.live_server_helper import LiveServer

from postmark.api.spec import WEBHOOK_SOURCE_ADDRESSES
from postmark.client import Client
from postmark.models import Bounce, WebhookEvent
from postmark.sandbox import Sandbox
from tests.sandbox.test_with_the_app import send

pytestmark = pytest.mark.django_db(transaction=True)

CURRENT = "current-secret-3c5e7a9b1d3f5a7c"
NEW = "new-secret-8a0c2e4f6b8d0f2a4c"
# A soft bounce suppresses nothing, so that every send of a test reaches the sandbox.
BOUNCING = "softbounce@bounce-testing.postmarkapp.com"


def set_up_webhooks(app_server: LiveServer) -> None:
    url = f"{app_server.url}/postmark/events/"
    call_command("postmark_webhooks", "--url", url, "--stream", "outbound", stdout=io.StringIO())


@pytest.fixture
def set_up(postmark_sandbox: Sandbox, app_server: LiveServer, settings: Any) -> Sandbox:
    """The site's webhook created in the sandbox by ``postmark_webhooks``, with the secret."""
    settings.POSTMARK_WEBHOOK_SECRETS = [CURRENT]
    set_up_webhooks(app_server)
    return postmark_sandbox


def bounce_once(sandbox: Sandbox) -> Any:
    """The webhook of one more bounce, once the sandbox is done posting it."""
    before = len(sandbox.webhook_deliveries)
    send(sandbox, BOUNCING)
    [delivery] = sandbox.wait_for_webhooks()[before:]
    return delivery


def test_a_webhook_set_up_by_postmark_webhooks_is_accepted(set_up: Sandbox) -> None:
    delivery = bounce_once(set_up)
    assert delivery.last_status == 200, delivery.attempts
    assert Bounce.objects.get().email == BOUNCING
    row = WebhookEvent.objects.get()
    assert "x-postmark-webhook-secret" not in {name.lower() for name in row.headers}
    assert CURRENT not in str(row.headers)


def test_a_wrong_header_is_refused_and_nothing_is_stored(set_up: Sandbox) -> None:
    wrong = [{"Name": "X-Postmark-Webhook-Secret", "Value": "guessed"}]
    Client.from_settings().edit_webhook(1, {"HttpHeaders": wrong})
    delivery = bounce_once(set_up)
    assert {attempt.status for attempt in delivery.attempts} == {403}
    assert WebhookEvent.objects.count() == 0 and Bounce.objects.count() == 0


def test_rotating_in_the_documented_order_refuses_no_webhook(
    set_up: Sandbox, settings: Any, app_server: LiveServer
) -> None:
    # 1. The site is deployed with the new secret first and the old one still accepted.
    settings.POSTMARK_WEBHOOK_SECRETS = [NEW, CURRENT]
    assert bounce_once(set_up).last_status == 200  # Postmark still sends the old one
    # 2. Then postmark_webhooks gives Postmark the new one.
    set_up_webhooks(app_server)
    [hook] = Client.from_settings().list_webhooks("outbound")
    assert hook["HttpHeaders"] == [{"Name": "X-Postmark-Webhook-Secret", "Value": NEW}]
    assert bounce_once(set_up).last_status == 200
    # 3. Once the old secret's last retries are over (10.5 hours), it goes.
    settings.POSTMARK_WEBHOOK_SECRETS = [NEW]
    assert bounce_once(set_up).last_status == 200
    assert WebhookEvent.objects.count() == 3


def test_an_address_outside_the_allowlist_is_refused_and_nothing_is_stored(
    set_up: Sandbox, settings: Any
) -> None:
    settings.POSTMARK_WEBHOOK_ALLOWED_IPS = list(WEBHOOK_SOURCE_ADDRESSES)  # not 127.0.0.1
    delivery = bounce_once(set_up)
    assert {attempt.status for attempt in delivery.attempts} == {403}
    assert WebhookEvent.objects.count() == 0
    settings.POSTMARK_WEBHOOK_ALLOWED_IPS = [*WEBHOOK_SOURCE_ADDRESSES, "127.0.0.1"]
    assert bounce_once(set_up).last_status == 200
