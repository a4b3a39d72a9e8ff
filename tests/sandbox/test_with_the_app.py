"""The sandbox and the app together, over real HTTP both ways: our backend sends to the
sandbox, the sandbox POSTs its webhooks to our views on a live server, our receivers store them."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.mail import EmailMessage
from pytest_django.live_server_helper import LiveServer

from postmark.models import Bounce, Message, Suppression
from postmark.sandbox import Sandbox

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def wired(postmark_sandbox: Sandbox, app_server: LiveServer, settings: Any) -> Sandbox:
    host = app_server.url.removeprefix("http://")
    user, password = settings.POSTMARK_API_USER, settings.POSTMARK_API_PASSWORD
    postmark_sandbox.webhooks.url = f"http://{user}:{password}@{host}/postmark/bounce/"
    return postmark_sandbox


def send(sandbox: Sandbox, to: str) -> EmailMessage:
    message = EmailMessage("Hello", "Hi", "shop@example.com", [to])
    # On in-memory SQLite the app server shares this thread's connection: no webhook may
    # arrive while send() is still writing.
    with sandbox.webhooks.paused():
        message.send()
    return message


def test_hard_bounce_reaches_the_app_and_the_next_send_is_suppressed(wired: Sandbox) -> None:
    first = send(wired, "hardbounce@bounce-testing.postmarkapp.com")
    [delivery] = wired.wait_for_webhooks()
    assert delivery.last_status == 200, delivery.attempts
    bounce = Bounce.objects.get()
    assert (bounce.type, bounce.email, bounce.inactive) == (
        "HardBounce",
        "hardbounce@bounce-testing.postmarkapp.com",
        True,
    )
    row = Message.objects.get(message_id=first.postmark.message_id)  # type: ignore[attr-defined]
    assert row.status == Message.Status.BOUNCED
    assert Suppression.objects.filter(email="hardbounce@bounce-testing.postmarkapp.com").exists()

    second = send(wired, "hardbounce@bounce-testing.postmarkapp.com")
    assert second.postmark.status == "suppressed"  # type: ignore[attr-defined]
    assert len(wired.messages) == 1  # the app did not even ask the sandbox


def test_delivery_webhook_marks_the_message_delivered(wired: Sandbox) -> None:
    message = send(wired, "alice@example.com")
    [delivery] = wired.wait_for_webhooks()
    assert delivery.last_status == 200, delivery.attempts
    row = Message.objects.get(message_id=message.postmark.message_id)  # type: ignore[attr-defined]
    assert row.status == Message.Status.DELIVERED and row.delivered_at is not None


def test_wrong_webhook_password_is_refused_and_retried(wired: Sandbox, settings: Any) -> None:
    wired.webhooks.url = wired.webhooks.url.replace(settings.POSTMARK_API_PASSWORD, "wrong")
    send(wired, "hardbounce@bounce-testing.postmarkapp.com")
    [delivery] = wired.wait_for_webhooks()
    assert delivery.state == "failed" and {a.status for a in delivery.attempts} == {401}
    assert not Bounce.objects.exists()
