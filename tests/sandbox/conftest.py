"""Fixtures of the sandbox's HTTP tests: a webhook receiver, the sandbox posting to it, a client,
the sandbox delivering inbound mail to the app on a live server (``app_server``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pytest_django.live_server_helper import LiveServer

from postmark import signals
from postmark.client import Client
from postmark.events.inbound import InboundEvent
from postmark.sandbox import Sandbox
from tests.support.sandbox_api import Receiver, receiving


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving() as target:
        yield target


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


@pytest.fixture
def received() -> Iterator[list[InboundEvent]]:
    """Every inbound event the app's receivers get during the test."""
    events: list[InboundEvent] = []

    def receiver(sender: Any, event: InboundEvent, **kwargs: Any) -> None:
        events.append(event)

    signals.inbound_received.connect(receiver, dispatch_uid="test-inbound-delivery")
    yield events
    signals.inbound_received.disconnect(dispatch_uid="test-inbound-delivery")


@pytest.fixture
def inbound(postmark_sandbox: Sandbox, app_server: LiveServer, settings: Any) -> Sandbox:
    """The sandbox, delivering inbound mail to the app's inbound URL with its credentials."""
    host = app_server.url.removeprefix("http://")
    user, password = settings.POSTMARK_API_USER, settings.POSTMARK_API_PASSWORD
    postmark_sandbox.inbound.url = f"http://{user}:{password}@{host}/postmark/inbound/"
    return postmark_sandbox
