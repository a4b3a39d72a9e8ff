"""Retention: ``postmark_purge`` deletes finished inbound mail after
POSTMARK_INBOUND_RETENTION_DAYS, its content (the stored webhook body) with it; failed mail,
and mail not finished, is kept whatever its age, content included."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone

from postmark.inbound import reprocess
from postmark.models import InboundMessage, WebhookEvent
from postmark.operations.erase import erase_locally
from postmark.operations.retention import purge
from tests.inbound.conftest import Deliver, Mailboxes, inbound, record
from tests.support.queued_sending import DUMMY, IMMEDIATE

pytestmark = pytest.mark.django_db

Status = InboundMessage.Status


def age(payload: dict[str, Any], days: float) -> None:
    """Make the message, its finishing and its webhook ``days`` old."""
    when = timezone.now() - timedelta(days=days)
    row = record(payload)
    InboundMessage.objects.filter(pk=row.pk).update(
        received_at=when, processed_at=when if row.processed_at else None
    )
    WebhookEvent.objects.filter(pk=row.webhook_event_id).update(received_at=when)


@pytest.fixture
def every_status(
    deliver: Deliver, immediate: None, mailboxes: Mailboxes, settings: Any
) -> dict[str, dict[str, Any]]:
    """One message in each status, all 40 days old."""
    mailboxes.actions["support"] = lambda mail: mail.drop("refused")
    mailboxes.failing["replies"] = RuntimeError("bug")
    made = {
        "processed": inbound(),
        "bounced": inbound(ToFull=[], To="support@in.example.com"),
        "failed": inbound(MailboxHash="reply-1"),
    }
    for payload in made.values():
        deliver(payload)
    settings.POSTMARK_INBOUND_ROUTES = [{"mailbox": "support", "subject": "^never$"}]
    made["unrouted"] = inbound()
    deliver(made["unrouted"])
    settings.TASKS = {"default": {"BACKEND": DUMMY}}
    made["received"] = inbound()
    deliver(made["received"])
    made["routed"] = inbound()
    deliver(made["routed"])
    InboundMessage.objects.filter(message_id=made["routed"]["MessageID"]).update(
        status=Status.ROUTED, claimed_at=timezone.now()
    )
    for name, payload in made.items():
        assert record(payload).status == name
        age(payload, 40)
    return made


def test_finished_mail_goes_after_its_days_with_its_content_and_the_rest_stays(
    every_status: dict[str, dict[str, Any]], settings: Any
) -> None:
    settings.POSTMARK_INBOUND_RETENTION_DAYS = 30
    settings.POSTMARK_RETENTION_DAYS = 10  # the webhook events' own rule must not take content

    removed = purge(batch_size=2)

    assert removed["inbound messages"] == 3
    kept = set(InboundMessage.objects.values_list("status", flat=True))
    assert kept == {"failed", "received", "routed"}
    # Each kept message still has its content; nothing else of the finished ones is left.
    for row in InboundMessage.objects.all():
        assert row.webhook_event is not None
    assert WebhookEvent.objects.count() == 3


def test_finished_mail_younger_than_its_days_stays(
    every_status: dict[str, dict[str, Any]], settings: Any
) -> None:
    settings.POSTMARK_INBOUND_RETENTION_DAYS = 60
    assert purge()["inbound messages"] == 0
    assert InboundMessage.objects.count() == 6 and WebhookEvent.objects.count() == 6


def test_failed_mail_is_kept_until_handled_then_goes_like_the_rest(
    every_status: dict[str, dict[str, Any]], settings: Any, mailboxes: Mailboxes, commit: Any
) -> None:
    settings.POSTMARK_INBOUND_RETENTION_DAYS = 0
    purge(timedelta(days=1000))  # nothing is that old
    failed = every_status["failed"]
    assert record(failed).status == Status.FAILED
    purge()
    assert record(failed).status == Status.FAILED  # kept, however old
    del mailboxes.failing["replies"]
    settings.TASKS = {"default": {"BACKEND": IMMEDIATE}}
    settings.POSTMARK_INBOUND_ROUTES = [{"mailbox": "replies"}]
    with commit(execute=True):
        reprocess(InboundMessage.objects.filter(pk=record(failed).pk))
    assert record(failed).status == Status.PROCESSED

    purge()

    assert not InboundMessage.objects.filter(message_id=failed["MessageID"]).exists()


def test_an_explicit_age_applies_to_inbound_mail_too(
    every_status: dict[str, dict[str, Any]], settings: Any
) -> None:
    settings.POSTMARK_INBOUND_RETENTION_DAYS = 365
    assert purge(timedelta(days=35), dry_run=True)["inbound messages"] == 3
    assert InboundMessage.objects.count() == 6  # a dry run


def test_the_command_lists_inbound_messages(every_status: Any, settings: Any) -> None:
    settings.POSTMARK_INBOUND_RETENTION_DAYS = 30
    out = io.StringIO()
    call_command("postmark_purge", "--dry-run", stdout=out)
    assert "  3 inbound messages" in out.getvalue()


def test_forgetting_an_address_takes_its_inbound_records_with_the_mail(
    deliver: Deliver, immediate: None, mailboxes: Mailboxes
) -> None:
    theirs = inbound(From="leaver@example.com", FromFull={"Email": "leaver@example.com"})
    others = inbound()
    deliver(theirs)
    deliver(others)

    erased = erase_locally("leaver@example.com")

    assert erased["webhook events"] == 1
    assert list(InboundMessage.objects.values_list("message_id", flat=True)) == [
        others["MessageID"]
    ]
