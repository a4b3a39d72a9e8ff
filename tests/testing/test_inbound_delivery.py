"""The inbound test helpers as a project's tests use them: the ``postmark_inbound`` fixture and
``PostmarkInboundMixin.deliver_inbound()`` post inbound mail through the real view (its
authentication, the stored event, the receivers) as Postmark would."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.core.mail import EmailMessage
from django.db import transaction
from django.test import TestCase, override_settings

from postmark import signals
from postmark.events.inbound import InboundEvent
from postmark.inbound import InboundMail, Mailbox
from postmark.models import WebhookEvent
from postmark.testing.inbound_delivery import AttachedFile, InboundTestClient
from postmark.testing.mixins import PostmarkInboundMixin
from tests.support.inbound_mail import INVOICE_EML
from tests.support.webhook_payloads import inbound as check_payload

pytestmark = pytest.mark.django_db


@pytest.fixture
def received() -> Iterator[list[InboundEvent]]:
    events: list[InboundEvent] = []

    def receiver(sender: Any, event: InboundEvent, **kwargs: Any) -> None:
        events.append(event)

    signals.inbound_received.connect(receiver, dispatch_uid="test-inbound-helpers")
    yield events
    signals.inbound_received.disconnect(dispatch_uid="test-inbound-helpers")


def test_the_fixture_delivers_written_mail_through_the_real_view(
    postmark_inbound: InboundTestClient, received: list[InboundEvent]
) -> None:
    delivery = postmark_inbound.deliver(
        to="reply+order-7@in.example.com",
        from_email=("Ann Example", "ann@example.com"),
        subject="Re: order 7",
        text="Arrived, thanks.\n\nOn Mon, 5 Jan 2026, Shop <shop@example.com> wrote:\n> Shipped",
        html="<p>Arrived, thanks.</p>",
        headers={"In-Reply-To": "<order-7@shop.example.com>"},
        attachments=[
            ("receipt.txt", "paid", "text/plain"),
            AttachedFile("logo.png", b"\x89PNG", "image/png", content_id="logo@shop"),
        ],
    )
    assert delivery.status_code == 200
    [event] = received
    assert (event.mailbox_hash, event.from_name, event.subject) == (
        "order-7",
        "Ann Example",
        "Re: order 7",
    )
    assert event.stripped_text_reply == "Arrived, thanks."
    assert ("In-Reply-To", "<order-7@shop.example.com>") in event.headers
    assert [(a.name, a.content, a.content_id) for a in event.attachments] == [
        ("logo.png", b"\x89PNG", "logo@shop"),
        ("receipt.txt", b"paid", ""),
    ]
    assert event.raw_email and delivery.payload["RawEmail"] == event.raw_email
    assert delivery.event.message_id == event.message_id
    row = delivery.webhook_event
    assert row is not None and row.status == WebhookEvent.Status.PROCESSED
    assert row.record_type == "Inbound"


@override_settings(POSTMARK_INBOUND_ROUTES=[{"mailbox": "replies", "mailbox_hash": r"^ticket-"}])
def test_the_mail_goes_through_the_router_to_its_mailbox(
    postmark_inbound: InboundTestClient,
) -> None:
    taken: list[tuple[str, str, list[str]]] = []

    def replies(sender: Mailbox, mail: InboundMail, **kwargs: Any) -> None:
        taken.append((mail.mailbox_hash, mail.reply_text, [a.name for a in mail.attachments]))

    signals.inbound_routed.connect(replies, sender=Mailbox.named("replies"), dispatch_uid="t")
    try:
        delivery = postmark_inbound(
            to="reply+ticket-5@in.example.com",
            text="Yes, please.\n> Shall we?",
            attachments=[("../../etc/passwd", b"root", "text/plain")],
        )
    finally:
        signals.inbound_routed.disconnect(sender=Mailbox.named("replies"), dispatch_uid="t")
    # The mailbox ran before deliver() returned, although the processing waits for the commit.
    assert taken == [("ticket-5", "Yes, please.", ["passwd"])]
    record = delivery.inbound_message
    assert record is not None and (record.status, record.mailbox) == ("processed", "replies")


def test_raw_false_posts_without_raw_email(
    postmark_inbound: InboundTestClient, received: list[InboundEvent]
) -> None:
    postmark_inbound(to="desk@in.example.com", text="Hi", raw=False)
    [event] = received
    assert event.raw_email == "" and event.text_body == "Hi\n"
    assert event.from_email == "sender@example.com"  # the default sender


def test_a_django_message_is_delivered_with_its_bcc(
    postmark_inbound: InboundTestClient, received: list[InboundEvent]
) -> None:
    message = EmailMessage(
        "Question",
        "Is it in stock?",
        "Bo <bo@example.com>",
        ["shop@example.com"],
        bcc=["sales+lead-3@in.example.com"],
    )
    postmark_inbound.deliver(message=message, recipient="sales+lead-3@in.example.com")
    [event] = received
    assert [a.email for a in event.bcc_full] == ["sales+lead-3@in.example.com"]
    assert (event.mailbox_hash, event.subject, event.from_name) == ("lead-3", "Question", "Bo")


def test_an_eml_is_delivered_as_it_is(
    postmark_inbound: InboundTestClient, received: list[InboundEvent]
) -> None:
    postmark_inbound.deliver(message=INVOICE_EML)
    [event] = received
    assert event.raw_email == INVOICE_EML.decode()
    assert [a.name for a in event.attachments] == ["in.pdf"]


@override_settings(POSTMARK_API_USER="inbound-user", POSTMARK_API_PASSWORD="inbound-pass")
def test_the_helper_posts_with_the_projects_webhook_credentials(
    postmark_inbound: InboundTestClient,
) -> None:
    # The view requires these credentials; the helper reads them from the settings.
    assert postmark_inbound(to="desk@in.example.com", text="Hi").status_code == 200


def test_a_post_without_the_credentials_is_refused_by_the_same_view(
    postmark_inbound: InboundTestClient, client: Any
) -> None:
    answer = client.post("/postmark/inbound/", data={}, content_type="application/json")
    assert answer.status_code == 401  # the view the helper posts to does require them


def test_any_json_is_posted_as_it_is_and_a_repeat_is_a_duplicate(
    postmark_inbound: InboundTestClient, received: list[InboundEvent]
) -> None:
    # Postmark's "check" button: attachments as Data, not Content.
    payload = check_payload()
    payload["Attachments"][0] = {**payload["Attachments"][0], "Data": "aGk="}
    del payload["Attachments"][0]["Content"]
    first = postmark_inbound.post(payload)
    again = postmark_inbound.post(payload)
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.response.content == b"duplicate\n"
    assert len(received) == 1 and received[0].attachments[0].content == b"hi"
    assert WebhookEvent.objects.count() == 1


def test_work_deferred_to_the_commit_runs_before_deliver_returns(
    postmark_inbound: InboundTestClient,
) -> None:
    done: list[str] = []

    def receiver(sender: Any, event: InboundEvent, **kwargs: Any) -> None:
        transaction.on_commit(lambda: done.append(event.subject))

    signals.inbound_received.connect(receiver, dispatch_uid="test-on-commit")
    try:
        postmark_inbound(to="desk@in.example.com", subject="Queued")
    finally:
        signals.inbound_received.disconnect(dispatch_uid="test-on-commit")
    assert done == ["Queued"]  # although this test runs inside a transaction


def test_the_fixture_posts_wherever_it_is_told(received: list[InboundEvent]) -> None:
    delivery = InboundTestClient(url="/postmark/inbound").deliver(to="desk@in.example.com")
    assert delivery.status_code == 200 and len(received) == 1


@pytest.mark.parametrize(
    "fields",
    [{}, {"message": INVOICE_EML, "subject": "both"}, {"message": INVOICE_EML, "to": "x@y.z"}],
    ids=["nothing", "message-and-fields", "message-and-to"],
)
def test_what_deliver_cannot_mean_is_a_type_error(
    postmark_inbound: InboundTestClient, fields: dict[str, Any]
) -> None:
    with pytest.raises(TypeError):
        postmark_inbound.deliver(**fields)


class InboundMixinTests(PostmarkInboundMixin, TestCase):
    def setUp(self) -> None:
        super().setUp()
        self.events: list[InboundEvent] = []
        signals.inbound_received.connect(self.receive, dispatch_uid="test-inbound-mixin")
        self.addCleanup(signals.inbound_received.disconnect, dispatch_uid="test-inbound-mixin")

    def receive(self, sender: Any, event: InboundEvent, **kwargs: Any) -> None:
        self.events.append(event)

    def test_deliver_inbound_posts_through_the_real_view(self) -> None:
        delivery = self.deliver_inbound(to="reply+9@in.example.com", text="Yes please\n> Want it?")
        self.assertEqual(delivery.status_code, 200)
        [event] = self.events
        self.assertEqual((event.mailbox_hash, event.stripped_text_reply), ("9", "Yes please"))
        self.assertEqual(WebhookEvent.objects.count(), 1)
