"""What the lists and pages say about a batch and a message: a batch that sent nothing does not
claim Postmark answered, and a message on the server's default stream names it."""

from __future__ import annotations

import re
from collections.abc import Callable
from html import unescape
from typing import Any

import pytest
from django.core.mail import EmailMessage, get_connection
from django.test import Client
from django.utils import timezone

from postmark.models import Message, QueuedBatch, Suppression
from tests.support.fake_postmark import FakePostmark
from tests.support.queued_sending import IMMEDIATE, QUEUED_BACKEND

pytestmark = pytest.mark.django_db

SUPPRESSED = "gone@example.com"


def column(html: str, name: str) -> list[str]:
    """The text of each changelist cell of the column ``name``."""
    cells = re.findall(rf'<td class="field-{name}[^"]*">(.*?)</td>', html, re.S)
    return [unescape(re.sub(r"<[^>]+>", "", cell)).strip() for cell in cells]


def readonly(html: str, label: str) -> str:
    """The value shown beside ``label`` on a read-only change page."""
    found = re.search(
        rf"<label>{re.escape(label)}:</label>\s*<div class=\"readonly\">(.*?)</div>", html, re.S
    )
    assert found is not None, f"no {label!r} on the page"
    return unescape(re.sub(r"<[^>]+>", "", found.group(1))).strip()


@pytest.fixture
def queued_send(
    settings: Any, fake_postmark: FakePostmark, django_capture_on_commit_callbacks: Any
) -> Callable[[list[str]], QueuedBatch]:
    """Queue one message per address and let a worker send the batch; its row."""
    settings.EMAIL_BACKEND = QUEUED_BACKEND
    settings.TASKS = {"default": {"BACKEND": IMMEDIATE}}
    Suppression.objects.create(email=SUPPRESSED, suppressed_at=timezone.now())

    def send(addresses: list[str]) -> QueuedBatch:
        messages = [EmailMessage("Hi", "Body", to=[address]) for address in addresses]
        with django_capture_on_commit_callbacks(execute=True):
            get_connection().send_messages(messages)
        return QueuedBatch.objects.get()

    return send


def test_a_batch_whose_only_message_was_suppressed_does_not_say_postmark_answered(
    admin_client: Client, fake_postmark: FakePostmark, queued_send: Any
) -> None:
    batch = queued_send([SUPPRESSED])
    assert batch.state == "sent" and fake_postmark.requests == []  # nothing went to Postmark

    listed = column(admin_client.get("/admin/postmark/queuedbatch/").content.decode(), "state")
    page = admin_client.get(f"/admin/postmark/queuedbatch/{batch.pk}/change/").content.decode()

    for shown in (*listed, readonly(page, "State")):
        assert "Postmark answered" not in shown
        assert shown.startswith("suppressed (nothing sent"), shown


def test_a_batch_that_reached_postmark_says_so(admin_client: Client, queued_send: Any) -> None:
    batch = queued_send([SUPPRESSED, "ann@example.com"])
    listed = column(admin_client.get("/admin/postmark/queuedbatch/").content.decode(), "state")
    assert listed == ["sent (Postmark answered; see each message's result)"]
    assert batch.state == "sent"


def test_a_message_sent_on_the_servers_default_stream_shows_outbound(
    admin_client: Client, fake_postmark: FakePostmark
) -> None:
    EmailMessage("Default", "Body", to=["ann@example.com"]).send()
    on_broadcast = EmailMessage("Broadcast", "Body", to=["bob@example.com"])
    on_broadcast.message_stream = "broadcast"  # type: ignore[attr-defined]
    on_broadcast.send()
    # A row logged before streams were stored by name.
    Message.objects.create(status="sent", to="old@example.com", subject="Old", message_stream="")

    html = admin_client.get("/admin/postmark/message/?o=-1").content.decode()
    shown = dict(zip(column(html, "short_subject"), column(html, "stream"), strict=True))
    assert shown == {"Default": "outbound", "Broadcast": "broadcast", "Old": "outbound"}
    assert Message.objects.get(subject="Default").message_stream == "outbound"
    for row in Message.objects.all():
        page = admin_client.get(f"/admin/postmark/message/{row.pk}/change/").content.decode()
        assert readonly(page, "Stream") == shown[row.subject]
