"""Suppressions: recorded from webhooks as Postmark records them, and honoured when sending."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.mail import EmailMessage
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from postmark import receivers, signals
from postmark.backends import PostmarkBackend
from postmark.message import PostmarkEmailMessage
from postmark.models import Message, Suppression
from tests.support import webhook_payloads as payloads
from tests.support.fake_postmark import FakePostmark
from tests.support.webhook_helpers import post

pytestmark = pytest.mark.django_db


def suppressed() -> set[tuple[str, str, str, str]]:
    """The suppressions in force."""
    rows = Suppression.objects.active()
    return set(rows.values_list("email", "message_stream", "reason", "origin"))


def lift(changed_at: str, recipient: str = "Jane@Example.com") -> dict[str, Any]:
    return payloads.subscription_change(
        SuppressSending=False, SuppressionReason=None, ChangedAt=changed_at, Recipient=recipient
    )


# --- recorded from webhooks ---------------------------------------------------------------------


def test_a_bounce_postmark_marks_inactive_suppresses_the_address(client: Client) -> None:
    post(client, payloads.bounce(Email="John@Example.com", MessageStream="broadcast"))

    row = Suppression.objects.get()
    assert (row.email, row.message_stream, row.reason, row.origin) == (
        "john@example.com",
        "broadcast",
        "HardBounce",
        "Recipient",
    )
    assert row.suppressed_at.isoformat() == "2026-11-27T14:11:12.123456+00:00"


def test_a_bounce_that_leaves_the_address_active_suppresses_nothing(client: Client) -> None:
    post(client, payloads.bounce(Type="SoftBounce", TypeCode=4096, Inactive=False))

    assert suppressed() == set()


def test_a_manual_deactivation_is_recorded_as_a_manual_suppression(client: Client) -> None:
    post(client, payloads.bounce(Type="ManuallyDeactivated", TypeCode=100002, MessageStream=""))

    assert suppressed() == {("john@example.com", "outbound", "ManualSuppression", "Recipient")}


def test_a_spam_complaint_suppresses_the_address(client: Client) -> None:
    post(client, payloads.spam_complaint(Inactive=False))

    assert suppressed() == {("john@example.com", "outbound", "SpamComplaint", "Recipient")}


def test_a_subscription_change_suppresses_then_lifts(client: Client) -> None:
    post(client, payloads.subscription_change(Origin="Customer"))
    assert suppressed() == {("jane@example.com", "outbound", "ManualSuppression", "Customer")}

    post(client, lift("2026-11-28T09:00:00Z"))

    assert suppressed() == set()
    # The row stays, lifted, so that a late copy of an older suppression cannot revive it.
    row = Suppression.objects.get()
    assert not row.active and row.lifted_at.isoformat() == "2026-11-28T09:00:00+00:00"


def test_a_lift_older_than_the_suppression_leaves_it(client: Client) -> None:
    post(client, payloads.subscription_change())

    post(
        client,
        payloads.subscription_change(SuppressSending=False, ChangedAt="2026-11-01T09:00:00Z"),
    )

    assert len(suppressed()) == 1


def test_a_lift_that_arrives_before_an_older_suppression_keeps_the_address_lifted(
    client: Client,
) -> None:
    # Postmark retries a webhook that failed, so the suppression (15:00) can arrive after the
    # lift (16:00) that undid it.
    post(client, lift("2026-11-27T16:00:00Z"))
    post(client, payloads.subscription_change(ChangedAt="2026-11-27T15:00:00Z"))

    assert suppressed() == set()
    row = Suppression.objects.get()
    assert row.suppressed_at.isoformat() == "2026-11-27T15:00:00+00:00"


def test_an_old_bounce_delivered_again_after_a_lift_does_not_suppress_again(
    client: Client,
) -> None:
    post(client, payloads.bounce())  # bounced at 14:11 UTC
    post(client, lift("2026-11-27T15:00:00Z", "john@example.com"))
    post(client, payloads.bounce(ID=2, BouncedAt="2026-11-27T14:30:00Z"))

    assert suppressed() == set()


def test_a_suppression_newer_than_the_lift_suppresses_again(client: Client) -> None:
    post(client, payloads.bounce())
    post(client, lift("2026-11-27T15:00:00Z", "john@example.com"))
    post(client, payloads.spam_complaint(BouncedAt="2026-11-27T16:00:00Z"))

    assert suppressed() == {("john@example.com", "outbound", "SpamComplaint", "Recipient")}


def test_a_lift_older_than_an_earlier_lift_changes_nothing(client: Client) -> None:
    post(client, lift("2026-11-27T16:00:00Z"))
    post(client, lift("2026-11-27T12:00:00Z"))

    assert Suppression.objects.get().lifted_at.isoformat() == "2026-11-27T16:00:00+00:00"


def test_a_repeated_suppression_keeps_one_row_with_the_latest_reason(client: Client) -> None:
    post(client, payloads.bounce())  # 14:11 UTC
    post(client, payloads.spam_complaint(BouncedAt="2026-11-27T15:00:00Z"))

    assert suppressed() == {("john@example.com", "outbound", "SpamComplaint", "Recipient")}


def test_an_older_suppression_arriving_late_leaves_the_newer_reason(client: Client) -> None:
    post(client, payloads.bounce())  # 14:11 UTC
    post(client, payloads.spam_complaint())  # 14:00 UTC

    assert suppressed() == {("john@example.com", "outbound", "HardBounce", "Recipient")}


def test_suppressions_are_per_stream(client: Client) -> None:
    post(client, payloads.bounce())
    post(client, payloads.bounce(ID=2, MessageStream="broadcast"))

    assert {row[1] for row in suppressed()} == {"outbound", "broadcast"}


# --- honoured when sending ----------------------------------------------------------------------


@pytest.fixture
def suppressions() -> None:
    Suppression.objects.bulk_create(
        [
            Suppression(
                email="gone@example.com",
                message_stream="outbound",
                reason="HardBounce",
                suppressed_at="2026-11-27T10:00:00Z",
            ),
            Suppression(
                email="only-broadcast@example.com",
                message_stream="broadcast",
                reason="ManualSuppression",
                suppressed_at="2026-11-27T10:00:00Z",
            ),
        ]
    )


def test_a_suppressed_recipient_is_not_sent_to(
    fake_postmark: FakePostmark, suppressions: None
) -> None:
    message = EmailMessage(
        "Hi", "Body", to=["Gone <GONE@example.com>", "here@example.com"], cc=["gone@example.com"]
    )

    assert message.send() == 1

    [sent] = fake_postmark.sent_messages
    assert sent["To"] == "here@example.com" and "Cc" not in sent
    assert message.suppressed_recipients == ["Gone <GONE@example.com>", "gone@example.com"]
    assert message.postmark.status == "sent"


def test_a_suppressed_recipient_given_as_a_name_and_address_pair_is_not_sent_to(
    fake_postmark: FakePostmark, suppressions: None
) -> None:
    # Django takes (name, address) pairs wherever it takes an address.
    message = EmailMessage("Hi", "Body", to=[("Gone", "Gone@Example.com"), ("Here", "here@x.org")])

    assert message.send() == 1

    [sent] = fake_postmark.sent_messages
    assert sent["To"] == "Here <here@x.org>"
    assert message.suppressed_recipients == [("Gone", "Gone@Example.com")]


def test_a_message_left_with_no_recipient_is_not_sent_and_shows_as_suppressed(
    fake_postmark: FakePostmark, suppressions: None
) -> None:
    message = EmailMessage("Hi", "Body", to=["gone@example.com"])

    assert message.send() == 0

    assert fake_postmark.requests == []
    assert message.postmark.status == "suppressed"
    row = Message.objects.get()
    assert row.status == Message.Status.SUPPRESSED
    # The log still says who the message was for, and why it did not go.
    assert row.to == "gone@example.com"
    assert "Suppressed recipients: gone@example.com" in row.error


def test_the_log_names_the_recipients_a_partly_suppressed_message_left_out(
    fake_postmark: FakePostmark, suppressions: None
) -> None:
    EmailMessage("Hi", "Body", to=["here@example.com", "gone@example.com"]).send()

    row = Message.objects.get()
    assert (row.status, row.to) == ("sent", "here@example.com")
    assert row.error == "Suppressed recipients: gone@example.com."


def test_a_lifted_suppression_no_longer_applies(
    fake_postmark: FakePostmark, suppressions: None
) -> None:
    Suppression.objects.filter(email="gone@example.com").update(lifted_at="2026-11-27T11:00:00Z")

    message = EmailMessage("Hi", "Body", to=["gone@example.com"])

    assert message.send() == 1
    assert fake_postmark.sent_messages[0]["To"] == "gone@example.com"


def test_a_suppression_on_another_stream_does_not_apply(
    fake_postmark: FakePostmark, suppressions: None
) -> None:
    outbound = EmailMessage("Hi", "Body", to=["only-broadcast@example.com"])
    broadcast = PostmarkEmailMessage(
        "Hi", "Body", to=["only-broadcast@example.com"], message_stream="broadcast"
    )

    PostmarkBackend().send_messages([outbound, broadcast])

    assert (outbound.postmark.status, broadcast.postmark.status) == ("sent", "suppressed")


def test_one_query_per_batch_checks_every_recipient(
    fake_postmark: FakePostmark, suppressions: None, settings: Any
) -> None:
    settings.POSTMARK_BATCH_SIZE = 100
    messages = [
        EmailMessage(
            "Hi", "Body", to=[f"user{i}@example.com", "gone@example.com"], cc=[f"cc{i}@example.com"]
        )
        for i in range(250)
    ]

    with CaptureQueriesContext(connection) as queries:
        sent = PostmarkBackend().send_messages(messages)

    lookups = [q["sql"] for q in queries if "postmark_suppression" in q["sql"]]
    assert len(lookups) == 3  # 250 messages, batches of 100
    assert sent == 250
    assert all(m["To"].count("@") == 1 for m in fake_postmark.sent_messages)


def test_with_the_setting_off_suppressed_recipients_are_sent_to(
    fake_postmark: FakePostmark, suppressions: None
) -> None:
    signals.pre_send.disconnect(dispatch_uid="postmark.skip_suppressed_recipients")
    try:
        EmailMessage("Hi", "Body", to=["gone@example.com"]).send()
    finally:
        signals.pre_send.connect(
            receivers.skip_suppressed_recipients, dispatch_uid="postmark.skip_suppressed_recipients"
        )

    assert len(fake_postmark.sent_messages) == 1
