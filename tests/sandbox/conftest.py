"""Fixtures of the sandbox's HTTP tests: a webhook receiver, the sandbox posting to it, a client."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from postmark.client import Client
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
