"""Processing off the request: the real task routes each kept message to its mailbox, at most
once when it succeeds; a mailbox that raises never loses the message (failed, error kept,
retried with backoff, reprocessable)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core import mail as django_mail
from django.core.mail import EmailMultiAlternatives
from django.utils import timezone

from postmark.inbound import InboundMail, Unprocessable, read_mail, reprocess, reroute
from postmark.models import Bounce, InboundMessage, WebhookEvent
from postmark.tasks import process_inbound_message
from tests.inbound.conftest import Deliver, Mailboxes, inbound, record, run_kept
from tests.support import webhook_payloads as payloads

pytestmark = pytest.mark.django_db

Status = InboundMessage.Status


def test_the_task_hands_the_mailbox_the_message_the_reply_text_the_hash_and_the_record(
    deliver: Deliver, immediate: None, mailboxes: Mailboxes
) -> None:
    payload = inbound(MailboxHash="reply-42", StrippedTextReply="Thanks!")

    deliver(payload)

    [(name, mail)] = mailboxes.calls
    row = record(payload)
    assert name == "replies" and row.status == Status.PROCESSED and row.mailbox == "replies"
    assert isinstance(mail.message, EmailMultiAlternatives)
    assert mail.message.subject == "Test subject"
    assert mail.message.attachments[0][:2] == (
        "test.txt",
        "This is attachment contents, base-64 encoded.",
    )
    assert (mail.reply_text, mail.mailbox_hash) == ("Thanks!", "reply-42")
    assert mail.record.pk == row.pk and mail.mailbox is not None
    assert mail.sender == "support@postmarkapp.com"
    assert [(a.name, a.content) for a in mail.attachments] == [
        ("test.txt", b"This is attachment contents, base-64 encoded.")
    ]
    assert row.processed_at is not None and row.attempts == 1 and row.error == ""


def test_mail_with_raw_email_reaches_the_mailbox_built_from_the_mime(
    deliver: Deliver, immediate: None, mailboxes: Mailboxes
) -> None:
    raw = (
        "From: Raw Sender <raw@example.com>\r\nTo: support@in.example.com\r\n"
        "Subject: From the MIME\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\nRaw body\r\n"
    )
    payload = inbound(RawEmail=raw, ToFull=[], To="support@in.example.com")

    deliver(payload)

    [(name, mail)] = mailboxes.calls
    assert name == "support" and mail.message.subject == "From the MIME"
    assert mail.message.body.strip() == "Raw body"


def test_a_message_is_processed_at_most_once_however_often_its_task_runs(
    deliver: Deliver, kept_tasks: Any, mailboxes: Mailboxes
) -> None:
    payload = inbound()
    deliver(payload)
    [pending] = list(kept_tasks.results)

    values = [pending.task.call(*pending.args) for _ in range(3)]

    assert mailboxes.names() == ["everything"]
    assert [v["status"] for v in values] == ["processed", "processed", "processed"]
    assert record(payload).attempts == 1


def test_a_mailbox_that_raises_leaves_the_message_failed_with_its_error_and_a_retry(
    deliver: Deliver, kept_tasks: Any, mailboxes: Mailboxes, settings: Any
) -> None:
    settings.POSTMARK_INBOUND_RETRY_DELAY = 60.0
    mailboxes.failing["everything"] = ValueError("the ticket system is down")
    payload = inbound()
    deliver(payload)

    before = timezone.now()
    [value] = run_kept(kept_tasks)

    row = record(payload)
    assert value == {"message": payload["MessageID"], "status": "failed"}
    assert row.status == Status.FAILED and row.mailbox == "everything"
    assert row.error == "ValueError: the ticket system is down"
    assert "the ticket system is down" in row.traceback and row.attempts == 1
    assert row.next_attempt_at is not None
    assert timedelta(seconds=59) < row.next_attempt_at - before < timedelta(seconds=62)
    [retry] = list(kept_tasks.results)  # the retry, deferred to that time
    assert retry.task.run_after == row.next_attempt_at
    assert WebhookEvent.objects.get().status == "processed"  # the webhook was fine all along


def test_retries_back_off_and_stop_at_the_attempts_setting_then_the_mail_is_kept(
    deliver: Deliver, kept_tasks: Any, mailboxes: Mailboxes, settings: Any
) -> None:
    settings.POSTMARK_INBOUND_MAX_ATTEMPTS = 3
    settings.POSTMARK_INBOUND_RETRY_DELAY = 10.0
    mailboxes.failing["everything"] = RuntimeError("still down")
    payload = inbound()
    deliver(payload)

    delays = []
    for _ in range(3):
        start = timezone.now()
        run_kept(kept_tasks)
        row = record(payload)
        delays.append(row.next_attempt_at and round((row.next_attempt_at - start).seconds, -1))

    assert delays == [10, 20, None]  # doubled each time; none after the last attempt
    assert list(kept_tasks.results) == []
    assert (
        row.status == Status.FAILED
        and row.attempts == 3
        and mailboxes.names() == ["everything"] * 3
    )


def test_a_retry_that_succeeds_processes_the_message(
    deliver: Deliver, kept_tasks: Any, mailboxes: Mailboxes
) -> None:
    mailboxes.failing["everything"] = RuntimeError("down for a moment")
    payload = inbound()
    deliver(payload)
    run_kept(kept_tasks)
    del mailboxes.failing["everything"]

    run_kept(kept_tasks)

    row = record(payload)
    assert row.status == Status.PROCESSED and row.attempts == 2 and row.error == ""
    assert row.next_attempt_at is None


def test_what_a_failing_mailbox_wrote_is_rolled_back_with_it(
    deliver: Deliver, immediate: None, mailboxes: Mailboxes
) -> None:
    def write_then_fail(mail: InboundMail) -> None:
        Bounce.objects.create(postmark_id=1, type="HardBounce")
        raise RuntimeError("after writing")

    mailboxes.actions["everything"] = write_then_fail
    payload = inbound()
    deliver(payload)
    assert not Bounce.objects.exists() and record(payload).status == Status.FAILED


def test_a_mailbox_can_bounce_the_mail_and_the_note_is_kept(
    deliver: Deliver, immediate: None, mailboxes: Mailboxes
) -> None:
    mailboxes.actions["support"] = lambda mail: mail.drop("unknown customer")
    payload = inbound(ToFull=[], To="Support <SUPPORT@in.example.com>")
    deliver(payload)
    row = record(payload)
    assert row.status == Status.BOUNCED and row.note == "unknown customer\nDropped: no notice sent"
    assert row.mailbox == "support" and row.processed_at is not None


def test_mail_no_route_takes_is_unrouted_kept_and_visible(
    deliver: Deliver, immediate: None, settings: Any, mailboxes: Mailboxes
) -> None:
    settings.POSTMARK_INBOUND_ROUTES = [{"mailbox": "support", "to": "support@in.example.com"}]
    payload = inbound()
    deliver(payload)
    row = record(payload)
    assert row.status == Status.UNROUTED and row.mailbox == "" and mailboxes.calls == []
    assert row.webhook_event is not None  # kept, content and all


def test_a_route_to_a_mailbox_without_receivers_fails_the_mail_until_one_is_connected(
    deliver: Deliver, immediate: None, settings: Any, mailboxes: Mailboxes, commit: Any
) -> None:
    settings.POSTMARK_INBOUND_ROUTES = [{"mailbox": "nobody"}]
    payload = inbound()
    deliver(payload)
    row = record(payload)
    assert row.status == Status.FAILED and "mailbox 'nobody'" in row.error
    mailboxes.connect("nobody")

    with commit(execute=True):
        reprocess([row])

    assert record(payload).status == Status.PROCESSED and mailboxes.names() == ["nobody"]


def test_mail_whose_content_was_deleted_fails_without_retries(
    deliver: Deliver, kept_tasks: Any, mailboxes: Mailboxes
) -> None:
    payload = inbound()
    deliver(payload)
    InboundMessage.objects.update(webhook_event=None)
    WebhookEvent.objects.all().delete()

    run_kept(kept_tasks)

    row = record(payload)
    assert row.status == Status.FAILED and "content is gone" in row.error
    assert row.next_attempt_at is None and list(kept_tasks.results) == []


def test_reprocess_runs_failed_mail_again_in_the_same_mailbox_with_a_full_set_of_attempts(
    deliver: Deliver, immediate: None, settings: Any, mailboxes: Mailboxes, commit: Any
) -> None:
    settings.POSTMARK_INBOUND_MAX_ATTEMPTS = 1
    mailboxes.failing["everything"] = RuntimeError("bug")
    payload = inbound()
    deliver(payload)
    settings.POSTMARK_INBOUND_ROUTES = [{"mailbox": "support"}]  # routes changed meanwhile
    del mailboxes.failing["everything"]

    with commit(execute=True):
        assert reprocess(InboundMessage.objects.all()) == 1

    row = record(payload)
    assert row.status == Status.PROCESSED and row.mailbox == "everything" and row.attempts == 1
    assert mailboxes.names() == ["everything", "everything"]


def test_reroute_routes_again_by_the_routes_declared_now(
    deliver: Deliver, immediate: None, settings: Any, mailboxes: Mailboxes, commit: Any
) -> None:
    settings.POSTMARK_INBOUND_ROUTES = [{"mailbox": "support", "to": "support@in.example.com"}]
    unrouted, failed = inbound(), inbound(Subject="fails")
    deliver(unrouted)
    settings.POSTMARK_INBOUND_ROUTES = [{"mailbox": "replies", "subject": "fails"}]
    mailboxes.failing["replies"] = RuntimeError("bug")
    deliver(failed)
    settings.POSTMARK_INBOUND_ROUTES = [{"mailbox": "everything"}]

    with commit(execute=True):
        assert reroute(InboundMessage.objects.all()) == 2

    assert {record(p).mailbox for p in (unrouted, failed)} == {"everything"}
    assert {record(p).status for p in (unrouted, failed)} == {Status.PROCESSED}


def test_processed_and_bounced_mail_is_never_reprocessed_or_rerouted(
    deliver: Deliver, immediate: None, mailboxes: Mailboxes, commit: Any
) -> None:
    mailboxes.actions["support"] = lambda mail: mail.drop("no")
    done, bounced = inbound(), inbound(ToFull=[], To="support@in.example.com")
    deliver(done)
    deliver(bounced)
    calls = len(mailboxes.calls)

    with commit(execute=True):
        assert reprocess(InboundMessage.objects.all()) == 0
        assert reroute(InboundMessage.objects.all()) == 0

    assert len(mailboxes.calls) == calls
    assert [record(done).status, record(bounced).status] == [Status.PROCESSED, Status.BOUNCED]


def test_a_task_for_a_record_that_does_not_exist_says_so() -> None:
    assert process_inbound_message.call("no-such-message") == {
        "message": "no-such-message",
        "status": "missing",
    }


def test_sync_processing_runs_in_the_receiving_process_after_the_commit(
    deliver: Deliver, settings: Any, kept_tasks: Any, mailboxes: Mailboxes
) -> None:
    settings.POSTMARK_INBOUND_PROCESSING = "sync"
    payload = inbound()
    deliver(payload)
    assert record(payload).status == Status.PROCESSED and list(kept_tasks.results) == []


def test_a_mailbox_may_send_mail_in_its_transaction(
    deliver: Deliver, immediate: None, mailboxes: Mailboxes, settings: Any
) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    mailboxes.actions["everything"] = lambda mail: django_mail.send_mail(
        "Got it", "Thanks", "desk@example.com", [mail.sender]
    )
    deliver(inbound())
    assert [m.to for m in django_mail.outbox] == [["support@postmarkapp.com"]]


def test_postmarks_check_payload_is_kept_and_processed_once_with_its_data_attachment(
    deliver: Deliver, immediate: None, mailboxes: Mailboxes
) -> None:
    # The "check" button posts the documentation's sample (its fixed MessageID) with each
    # attachment's content as "Data".
    check = payloads.inbound(
        Attachments=[{"Name": "myimage.png", "Data": "R0lGODlh", "ContentType": "image/png"}]
    )
    assert deliver(check).status_code == 200
    assert deliver({**check, "Date": "a second check"}).status_code == 200

    [(_, mail)] = mailboxes.calls
    assert [(a.name, a.content) for a in mail.attachments] == [("myimage.png", b"GIF89a")]
    assert record(check).status == Status.PROCESSED


def test_read_mail_gives_any_record_its_mail_or_says_why_not(
    deliver: Deliver, kept_tasks: Any
) -> None:
    payload = inbound(Subject="Shown in the admin")
    deliver(payload)
    assert read_mail(record(payload)).message.subject == "Shown in the admin"
    WebhookEvent.objects.all().delete()  # the record goes with its content
    assert not InboundMessage.objects.exists()
    with pytest.raises(Unprocessable, match="content is gone"):
        read_mail(InboundMessage(message_id="x", webhook_event=None))
