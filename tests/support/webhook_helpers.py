"""Posting webhooks the way Postmark does: JSON, basic auth from the URL."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.dispatch import Signal
from django.test import Client

from postmark.models import Message
from tests.support import webhook_payloads as payloads


def basic_auth(user: str, password: str) -> str:
    """The Authorization header of a URL's ``user:password@`` (as Postmark sends it)."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


AUTH = basic_auth("hook-user", "hook-password")
BOUNCE_URL = "/postmark/bounce/"
EVENTS_URL = "/postmark/events/"
INBOUND_URL = "/postmark/inbound/"


def post(
    client: Client,
    payload: Any,
    url: str = BOUNCE_URL,
    *,
    auth: str | None = AUTH,
    content_type: str = "application/json",
    **extra: str,
) -> Any:
    """``extra``: more of the request's environ, e.g. ``HTTP_X_POSTMARK_WEBHOOK_SECRET``."""
    body = payload if isinstance(payload, bytes | str) else json.dumps(payload)
    headers = {"HTTP_AUTHORIZATION": auth} if auth else {}
    return client.post(url, body, content_type=content_type, **headers, **extra)


@contextmanager
def failing_receiver(signal: Signal, error: str) -> Iterator[list[int]]:
    """Connects a receiver that raises RuntimeError(error) while the list it yields is empty;
    append to the list to mend it."""
    mended: list[int] = []

    def receiver(**kwargs: Any) -> None:
        if not mended:
            raise RuntimeError(error)

    signal.connect(receiver, weak=False)
    try:
        yield mended
    finally:
        signal.disconnect(receiver)


def sent_message(**fields: Any) -> Message:
    return Message.objects.create(
        message_id=payloads.MESSAGE_ID,
        status=Message.Status.SENT,
        from_email="sender@example.com",
        to="john@example.com",
        **fields,
    )
