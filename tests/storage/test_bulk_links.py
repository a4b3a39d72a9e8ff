"""A Bulk API recipient's log row (no MessageID yet, a generated ``link_id``) is found by the id in
its webhooks' Metadata: the first one fills in the MessageID, and every later event and Bounce
row link to it as for any message."""

from __future__ import annotations

import uuid

import pytest
from django.test import Client
from hypothesis import given
from hypothesis import strategies as st

from postmark.models import Bounce, Message
from postmark.sending.recipients import LINK_KEY
from tests.support import webhook_payloads as payloads
from tests.support.webhook_helpers import post

pytestmark = pytest.mark.django_db


def bulk_row(**fields: object) -> Message:
    return Message.objects.create(
        status=Message.Status.QUEUED,
        from_email="news@example.com",
        to="john@example.com",
        bulk_request_id="req-1",
        link_id=uuid.uuid4(),
        **fields,
    )


def linked(row: Message, payload: dict[str, object]) -> dict[str, object]:
    return {**payload, "Metadata": {"campaign": "dec", LINK_KEY: str(row.link_id)}}


def test_a_delivery_fills_in_the_message_id_and_later_events_find_the_row(client: Client) -> None:
    row = bulk_row()
    assert post(client, linked(row, payloads.delivery())).status_code == 200
    row.refresh_from_db()
    assert (str(row.message_id), row.status) == (payloads.MESSAGE_ID, "delivered")
    opened = {**payloads.open_(), "Metadata": {}}  # an event without the id: by MessageID
    assert post(client, opened).status_code == 200
    row.refresh_from_db()
    assert row.status == "opened"


def test_a_bounce_links_its_bounce_row_to_the_recipients_row(client: Client) -> None:
    row = bulk_row()
    assert post(client, linked(row, payloads.bounce())).status_code == 200
    row.refresh_from_db()
    assert row.status == "bounced" and Bounce.objects.get().message == row


def test_a_message_id_another_row_holds_links_nothing_and_fails_nothing(client: Client) -> None:
    other = Message.objects.create(
        message_id=payloads.MESSAGE_ID, status="sent", from_email="f@example.com"
    )
    row = bulk_row()
    assert post(client, linked(row, payloads.delivery())).status_code == 200
    row.refresh_from_db()
    other.refresh_from_db()
    assert row.message_id is None and row.status == "queued"
    assert other.status == "delivered"


@given(value=st.one_of(st.text(max_size=40), st.integers(), st.none()))
def test_a_link_id_that_is_not_one_is_ignored(value: object) -> None:
    Message.objects.all().delete()
    row = bulk_row()
    payload = {**payloads.delivery(), "Metadata": {LINK_KEY: value}}
    assert post(Client(), payload).status_code == 200
    row.refresh_from_db()
    assert row.message_id is None
