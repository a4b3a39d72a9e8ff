"""The size limits that apply on each database: a webhook body the view accepts is stored whole,
and one the database could not store is refused with a 413 before anything is written."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.test import Client

from postmark.models import WebhookEvent
from postmark.storage import statements
from tests.support import webhook_payloads as payloads
from tests.support.webhook_helpers import INBOUND_URL, post

pytestmark = pytest.mark.django_db


def inbound_body(size: int) -> bytes:
    """An inbound mail of exactly ``size`` bytes whose text is all quotes: each takes two bytes
    in the JSON and each of those two is escaped again in a MySQL statement (the worst case)."""
    base = len(json.dumps(payloads.inbound(TextBody="")).encode())
    quotes, odd = divmod(size - base, 2)
    body = json.dumps(payloads.inbound(TextBody='"' * quotes + "x" * odd)).encode()
    assert len(body) == size
    return body


def test_a_body_at_the_limit_is_stored_whole_and_one_byte_more_is_refused(
    client: Client, settings: pytest.FixtureRequest
) -> None:
    settings.POSTMARK_WEBHOOK_MAX_BYTES = 1024 * 1024  # type: ignore[attr-defined]
    limit, setting = statements.body_limit(1024 * 1024)
    assert (limit, setting) == (1024 * 1024, "POSTMARK_WEBHOOK_MAX_BYTES")

    accepted = post(client, inbound_body(limit), INBOUND_URL)
    refused = post(client, inbound_body(limit + 1), INBOUND_URL)

    assert accepted.status_code == 200
    assert WebhookEvent.objects.get().body.encode() == inbound_body(limit)
    assert refused.status_code == 413 and b"POSTMARK_WEBHOOK_MAX_BYTES" in refused.content


@pytest.mark.skipif(connection.vendor != "mysql", reason="max_allowed_packet is MySQL's limit")
def test_on_mysql_a_body_may_take_half_of_max_allowed_packet(client: Client) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT @@max_allowed_packet")
        packet = int(cursor.fetchone()[0])
    limit, setting = statements.body_limit(packet)
    assert (limit, setting) == (
        (packet - 64 * 1024) // 2,
        "half of the database's max_allowed_packet",
    )

    accepted = post(client, inbound_body(limit), INBOUND_URL)
    refused = post(client, inbound_body(limit + 1), INBOUND_URL)

    assert accepted.status_code == 200, accepted.content
    assert len(WebhookEvent.objects.get().body) == limit
    assert refused.status_code == 413 and b"max_allowed_packet" in refused.content
    assert WebhookEvent.objects.count() == 1
