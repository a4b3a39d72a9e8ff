"""Random bodies never get a 500: every refusal is a 4xx, and what is accepted is stored.

The generator is seeded; a failure prints the seed and the body, so it can be reproduced.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from tests.support import webhook_payloads as payloads
from tests.support.webhook_helpers import BOUNCE_URL, EVENTS_URL, INBOUND_URL, post

pytestmark = pytest.mark.django_db

FIELD_NAMES = sorted(
    {
        key
        for make in (
            payloads.bounce,
            payloads.delivery,
            payloads.open_,
            payloads.click,
            payloads.subscription_change,
            payloads.inbound,
        )
        for key in make()
    }
)
RECORD_TYPES = [
    "Bounce",
    "SpamComplaint",
    "Delivery",
    "Open",
    "Click",
    "SubscriptionChange",
    "Inbound",
    "",
    "bounce",
    "Teleport",
]
STRINGS = [
    "",
    " ",
    "\x00",
    "\ud800",
    "é" * 300,
    "x" * 5000,
    "2026-11-27T10:11:12.1234567Z",
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59-14:00",
    payloads.MESSAGE_ID,
    "true",
    "-1",
    "99999999999999999999",
    "a@b",
    "<script>",
]
REAL = [
    payloads.bounce,
    payloads.spam_complaint,
    payloads.delivery,
    payloads.open_,
    payloads.click,
    payloads.subscription_change,
    payloads.inbound,
]


def random_value(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(9 if depth < 3 else 6)
    if kind == 0:
        return None
    if kind == 1:
        return rng.choice([True, False])
    if kind == 2:
        return rng.choice([0, -1, 1, 2**31, 2**63, -(2**63) - 1, 10**30, rng.randrange(10**6)])
    if kind == 3:
        return rng.choice([0.5, -1e308, 1e-300])
    if kind in (4, 5):
        return rng.choice(STRINGS)
    if kind == 6:
        return [random_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {
        rng.choice([*FIELD_NAMES, "x"]): random_value(rng, depth + 1)
        for _ in range(rng.randrange(5))
    }


def random_object(rng: random.Random) -> bytes:
    """A payload of a real kind with random fields replaced by random values."""
    payload = rng.choice(REAL)()
    for key in rng.sample(FIELD_NAMES, rng.randrange(1, 8)):
        if rng.random() < 0.3:
            payload.pop(key, None)
        else:
            payload[key] = random_value(rng)
    if rng.random() < 0.5:
        payload["RecordType"] = rng.choice(RECORD_TYPES)
    return json.dumps(payload).encode()


def random_json(rng: random.Random) -> bytes:
    return json.dumps(random_value(rng)).encode()


def truncated_payload(rng: random.Random) -> bytes:
    body = json.dumps(rng.choice(REAL)()).encode()
    return body[: rng.randrange(len(body))]


def random_bytes(rng: random.Random) -> bytes:
    return bytes(rng.randrange(256) for _ in range(rng.randrange(200)))


GENERATORS: list[Callable[[random.Random], bytes]] = [
    random_object,
    random_object,
    random_json,
    truncated_payload,
    random_bytes,
]


@pytest.mark.parametrize("seed", range(8))
def test_random_bodies_never_get_a_500(client: Client, seed: int) -> None:
    rng = random.Random(seed)
    statuses: set[int] = set()
    for _ in range(150):
        body = rng.choice(GENERATORS)(rng)
        url = rng.choice([BOUNCE_URL, EVENTS_URL, INBOUND_URL])

        response = post(client, body, url)

        assert response.status_code < 500, (seed, url, body, response.content)
        statuses.add(response.status_code)
    assert 200 in statuses and 400 in statuses  # the generator reaches both sides
