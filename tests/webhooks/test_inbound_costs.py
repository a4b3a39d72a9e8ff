"""What inbound mail costs, as a ratio of CPU times at n and 8n measured in one run: anyone who
can mail the inbound address writes these payloads.

A webhook costs time linear in its addresses; ``event.message`` stops growing at its limits
(``mail.MAX_ADDRESSES`` addresses, ``mail.MAX_HEADER_LENGTH`` characters a header): past them,
a message eight times larger costs about the same to build and to render.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from postmark import signals
from postmark.events import mail
from tests.support import inbound_mail
from tests.support import webhook_payloads as payloads
from tests.support.cost_growth import growth, watchdog
from tests.support.webhook_helpers import INBOUND_URL, post

pytestmark = pytest.mark.django_db


def to_full(count: int) -> dict[str, Any]:
    people = [
        {"Email": f"u{i}@example.com", "Name": f"User {i}", "MailboxHash": ""} for i in range(count)
    ]
    return {"ToFull": people, "CcFull": people}


def raw_to(count: int) -> dict[str, Any]:
    header = ", ".join(f"u{i}@example.com" for i in range(count))
    return {"RawEmail": inbound_mail.raw_email({"To": header, "Cc": header})}


def encoded_words(count: int) -> dict[str, Any]:
    # Encoded words without their end: the standard library's decoder scans the rest of the
    # header again from each one.
    return {"RawEmail": inbound_mail.raw_email({"X-Words": "=?utf-8?q?w " * count})}


SHAPES = {"ToFull": to_full, "RawEmail To": raw_to, "encoded words": encoded_words}
# The size at which each shape reaches the message's limits.
LIMITS = {
    "ToFull": mail.MAX_ADDRESSES,
    "RawEmail To": mail.MAX_ADDRESSES,
    "encoded words": mail.MAX_HEADER_LENGTH // len("=?utf-8?q?w ") + 1,
}


class Reader:
    """A receiver of inbound_received that builds and renders each message, as a user's would,
    and keeps the CPU time that took, and the message."""

    def __init__(self) -> None:
        self.costs: list[float] = []
        self.message: Any = None
        signals.inbound_received.connect(self, weak=False)

    def __call__(self, event: Any, **kwargs: Any) -> None:
        start = time.process_time()
        event.message.message().as_bytes()
        self.costs.append(time.process_time() - start)
        self.message = event.message

    def close(self) -> None:
        signals.inbound_received.disconnect(self)


@pytest.fixture
def reader() -> Any:
    reading = Reader()
    yield reading
    reading.close()


def poster(client: Client, changes: dict[str, Any]) -> Callable[[], object]:
    def send() -> None:
        # A new MessageID each time: a repeated body is a duplicate, and not processed again.
        response = post(
            client, payloads.inbound(MessageID=str(uuid.uuid4()), **changes), INBOUND_URL
        )
        assert response.status_code == 200, response.content

    return send


@pytest.mark.parametrize("shape", SHAPES)
def test_an_inbound_webhook_costs_time_linear_in_its_addresses(
    client: Client, reader: Reader, shape: str
) -> None:
    assert growth(lambda n: poster(client, SHAPES[shape](n)), 500) < 20


@pytest.mark.parametrize("shape", SHAPES)
def test_the_message_stops_growing_past_its_limits(
    client: Client, reader: Reader, shape: str
) -> None:
    def reading_cost(count: int) -> float:
        send = poster(client, SHAPES[shape](count))
        with watchdog(f"reading {shape} of {count} addresses"):
            reader.costs.clear()
            for _ in range(3):
                send()
        return min(reader.costs)

    assert reading_cost(8 * LIMITS[shape]) / reading_cost(LIMITS[shape]) < 3
    message = reader.message
    for addresses in (message.to, message.cc):
        assert len(addresses) <= mail.MAX_ADDRESSES
        assert len(", ".join(addresses)) <= mail.MAX_HEADER_LENGTH
    assert all(len(value) <= mail.MAX_HEADER_LENGTH for value in message.extra_headers.values())
