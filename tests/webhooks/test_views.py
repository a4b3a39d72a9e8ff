"""The webhook views: each kind of event is stored once, fires its signal, and reaches the
default receivers' rows."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from django.core.mail import EmailMultiAlternatives
from django.test import Client

from postmark import events, signals
from postmark.models import Bounce, Message, Suppression, WebhookEvent
from tests.support import webhook_payloads as payloads
from tests.support.webhook_helpers import BOUNCE_URL, EVENTS_URL, INBOUND_URL, post, sent_message

pytestmark = pytest.mark.django_db


# --- every kind is stored once and fires its signal ---------------------------------------------

KINDS = [
    (payloads.bounce, signals.bounce_received, events.BounceEvent),
    (payloads.spam_complaint, signals.spam_complaint_received, events.SpamComplaintEvent),
    (payloads.delivery, signals.delivery_received, events.DeliveryEvent),
    (payloads.open_, signals.open_received, events.OpenEvent),
    (payloads.click, signals.click_received, events.ClickEvent),
    (
        payloads.subscription_change,
        signals.subscription_change_received,
        events.SubscriptionChangeEvent,
    ),
]


@pytest.mark.parametrize(("make", "signal", "event_type"), KINDS)
@pytest.mark.parametrize("url", [BOUNCE_URL, EVENTS_URL])
def test_each_outbound_kind_is_stored_once_and_fires_its_signal(
    client: Client, caught: list, make: Any, signal: Any, event_type: type, url: str
) -> None:
    payload = make()
    response = post(client, payload, url)

    assert response.status_code == 200, response.content
    assert response.content == b"processed\n"
    row = WebhookEvent.objects.get()
    assert row.status == WebhookEvent.Status.PROCESSED
    assert row.record_type == payload["RecordType"]
    assert json.loads(row.body) == payload
    assert row.attempts == 1
    assert row.remote_addr == "127.0.0.1"
    assert "Authorization" not in row.headers and row.headers["Content-Type"] == "application/json"
    assert str(row.message_id) == payloads.MESSAGE_ID
    [(fired, kwargs)] = caught
    assert fired is signal
    assert kwargs["sender"] is event_type and type(kwargs["event"]) is event_type
    assert kwargs["payload"] == payload and kwargs["webhook_event"].pk == row.pk


@pytest.mark.parametrize(("make", "signal", "event_type"), KINDS)
def test_a_redelivered_event_creates_nothing_and_fires_nothing(
    client: Client, caught: list, make: Any, signal: Any, event_type: type
) -> None:
    payload = make()
    post(client, payload)
    rows = {model: model.objects.count() for model in (WebhookEvent, Bounce, Suppression)}

    response = post(client, payload)

    assert response.status_code == 200 and response.content == b"duplicate\n"
    assert {model: model.objects.count() for model in rows} == rows
    assert len(caught) == 1
    assert WebhookEvent.objects.get().attempts == 1


def test_inbound_mail_reaches_its_signal_as_a_django_message_with_attachments(
    client: Client, caught: list
) -> None:
    payload = payloads.inbound()
    payload["Attachments"].append(
        # Postmark's "check" button sends Data instead of Content.
        {
            "Name": "pixel.gif",
            "Data": base64.b64encode(b"GIF89a").decode(),
            "ContentType": "image/gif",
            "ContentID": "pixel@inline",
        }
    )

    response = post(client, payload, INBOUND_URL)

    assert response.status_code == 200, response.content
    assert WebhookEvent.objects.get().record_type == "Inbound"
    [(fired, kwargs)] = caught
    assert fired is signals.inbound_received
    message = kwargs["event"].message
    assert isinstance(message, EmailMultiAlternatives)
    assert message.subject == "Test subject"
    assert message.from_email == "Postmarkapp Support <support@postmarkapp.com>"
    assert message.to == ["Firstname Lastname <yourhash+SampleHash@inbound.postmarkapp.com>"]
    assert message.cc == ["First Cc <firstcc@postmarkapp.com>", "secondCc@postmarkapp.com"]
    assert message.reply_to == ["replyto@postmarkapp.com"]
    assert message.body == "This is a test text body."
    assert message.alternatives[0][1] == "text/html"
    attachment, inline = message.attachments
    assert tuple(attachment)[:3] == (
        "test.txt",
        "This is attachment contents, base-64 encoded.",
        "text/plain",
    )
    # A file with a ContentID is a MIME part of its own, which keeps it for the HTML's cid:.
    assert (inline.get_filename(), inline.get_content_type()) == ("pixel.gif", "image/gif")
    assert (inline["Content-ID"], inline.get_payload(decode=True)) == ("<pixel@inline>", b"GIF89a")
    assert message.extra_headers["X-Spam-Status"] == "No"
    message.message()  # renders as a real MIME message


def test_an_unknown_record_type_is_stored_and_acknowledged(client: Client, caught: list) -> None:
    response = post(client, {"RecordType": "Teleport", "MessageID": payloads.MESSAGE_ID})

    assert response.status_code == 200
    assert b"unknown RecordType" in response.content
    row = WebhookEvent.objects.get()
    assert (row.status, row.record_type) == (WebhookEvent.Status.IGNORED, "Teleport")
    assert caught == []


# --- default receivers --------------------------------------------------------------------------


def test_a_bounce_is_stored_with_every_field_and_linked_to_its_message(client: Client) -> None:
    message = sent_message()

    post(client, payloads.bounce())

    bounce = Bounce.objects.get()
    assert bounce.postmark_id == 4323372036854775807
    assert (bounce.type, bounce.type_code, bounce.name) == ("HardBounce", 1, "Hard bounce")
    assert (bounce.email, bounce.from_email, bounce.tag) == (
        "john@example.com",
        "sender@example.com",
        "Invitation",
    )
    assert bounce.bounced_at.isoformat() == "2026-11-27T14:11:12.123456+00:00"
    assert bounce.inactive and bounce.can_activate and bounce.dump_available
    assert (bounce.server_id, bounce.message_stream) == (23, "outbound")
    assert bounce.details == "Test bounce details" and bounce.content == "<Full dump of bounce>"
    assert bounce.metadata == {"a_key": "a_value", "b_key": "b_value"}
    assert bounce.message == message
    assert list(message.bounces.all()) == [bounce]
    assert list(message.webhook_events.all()) == [WebhookEvent.objects.get()]
    message.refresh_from_db()
    assert message.status == Message.Status.BOUNCED
    assert message.bounced_at == bounce.bounced_at


def test_a_bounce_for_a_message_never_logged_is_stored_all_the_same(client: Client) -> None:
    response = post(client, payloads.bounce(MessageID="00000000-0000-0000-0000-000000000001"))

    assert response.status_code == 200
    assert Bounce.objects.get().message_id is not None
    assert not Message.objects.exists()


def test_an_updated_bounce_rewrites_its_row(client: Client) -> None:
    post(client, payloads.bounce(Inactive=True))
    post(client, payloads.bounce(Inactive=False, CanActivate=False))

    bounce = Bounce.objects.get()
    assert not bounce.inactive and not bounce.can_activate
    assert WebhookEvent.objects.count() == 2


def test_a_message_moves_forward_through_its_lifecycle_only(client: Client) -> None:
    message = sent_message()

    post(client, payloads.open_())
    post(client, payloads.delivery())  # late: the message stays "opened"
    message.refresh_from_db()
    assert message.status == Message.Status.OPENED
    assert message.delivered_at.isoformat() == "2026-11-27T10:11:13.123456+00:00"
    assert message.opened_at.isoformat() == "2026-11-27T09:00:00.123456+00:00"

    post(client, payloads.click())
    post(client, payloads.open_(ReceivedAt="2026-11-28T11:00:00Z", FirstOpen=False))
    message.refresh_from_db()
    assert message.status == Message.Status.CLICKED
    assert message.opened_at.isoformat() == "2026-11-27T09:00:00.123456+00:00"  # the first

    post(client, payloads.spam_complaint())
    message.refresh_from_db()
    assert message.status == Message.Status.COMPLAINED
    assert message.complained_at is not None


def test_an_autoresponder_bounce_does_not_mark_the_message_bounced(client: Client) -> None:
    message = sent_message()

    post(client, payloads.bounce(Type="AutoResponder", TypeCode=64, Inactive=False))

    assert Bounce.objects.get().type == "AutoResponder"
    message.refresh_from_db()
    assert message.status == Message.Status.SENT


def test_a_spam_complaint_with_a_misleading_type_code_is_stored_as_a_complaint(
    client: Client,
) -> None:
    post(client, payloads.spam_complaint())

    bounce = Bounce.objects.get()
    assert (bounce.record_type, bounce.type, bounce.type_code) == (
        "SpamComplaint",
        "SpamComplaint",
        512,
    )
    suppression = Suppression.objects.get()
    assert suppression.reason == Suppression.Reason.SPAM_COMPLAINT


def test_a_default_receiver_turned_off_writes_nothing(client: Client, settings: Any) -> None:
    from postmark import receivers

    signals.bounce_received.disconnect(dispatch_uid="postmark.store_bounce")
    try:
        post(client, payloads.bounce())
    finally:
        signals.bounce_received.connect(
            receivers.store_bounce, dispatch_uid="postmark.store_bounce"
        )
    assert not Bounce.objects.exists()
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.PROCESSED


def test_a_receiver_after_the_defaults_sees_what_they_wrote(client: Client) -> None:
    message = sent_message()
    seen: list[Any] = []

    def reader(**kwargs: Any) -> None:
        seen.append(Bounce.objects.values_list("postmark_id", flat=True).first())
        seen.append(Suppression.objects.values_list("email", flat=True).first())
        seen.append(Message.objects.get(pk=message.pk).status)
        Message.objects.filter(pk=message.pk).update(subject="seen")  # a write of its own

    signals.bounce_received.connect(reader, weak=False)
    try:
        assert post(client, payloads.bounce()).status_code == 200
    finally:
        signals.bounce_received.disconnect(reader)

    assert seen == [4323372036854775807, "john@example.com", Message.Status.BOUNCED]
    message.refresh_from_db()
    assert (message.status, message.subject) == (Message.Status.BOUNCED, "seen")


@pytest.mark.parametrize(
    "committing",
    [
        False,
        # Outside a test transaction the webhook's own is the outermost: COMMIT, not a savepoint.
        pytest.param(True, marks=pytest.mark.django_db(transaction=True), id="committing"),
    ],
)
def test_a_receiver_that_swallows_a_database_error_still_fails_the_webhook(
    client: Client, committing: bool
) -> None:
    import contextlib

    from django.db import DatabaseError, connection

    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only: SQLite and MariaDB do not abort a transaction on an error")
    message = sent_message()

    def swallower(**kwargs: Any) -> None:
        with contextlib.suppress(DatabaseError), connection.cursor() as cursor:
            cursor.execute("SELECT 1 / 0")

    signals.bounce_received.connect(swallower, weak=False)
    try:
        response = post(client, payloads.bounce())
    finally:
        signals.bounce_received.disconnect(swallower)

    assert response.status_code == 500
    row = WebhookEvent.objects.get()
    assert row.status == WebhookEvent.Status.FAILED and "aborted the transaction" in row.error
    assert not Bounce.objects.exists() and not Suppression.objects.exists()
    message.refresh_from_db()
    assert message.status == Message.Status.SENT

    assert post(client, payloads.bounce()).status_code == 200  # Postmark's retry
    assert Bounce.objects.count() == 1
