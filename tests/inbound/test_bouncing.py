"""A mailbox refuses mail: ``mail.bounce(text)`` answers the sender with a notice (through the
app's send path, after the mailbox's work commits, once), ``mail.drop(note)`` answers nobody;
either leaves the record ``bounced`` with a note that says why and what the sender was told."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import mail as outbox
from django.core.mail.backends.locmem import EmailBackend

from postmark.inbound import InboundMail, process, reprocess
from postmark.models import InboundMessage, Suppression
from postmark.sandbox import Sandbox
from postmark.signals import pre_send
from tests.inbound.conftest import Deliver, Mailboxes, inbound, record

Status = InboundMessage.Status
pytestmark = pytest.mark.django_db
PERSON = "ann@example.org"
LOCMEM = "django.core.mail.backends.locmem.EmailBackend"


def from_a_person(**changes: Any) -> dict[str, Any]:
    """Mail from a person to support@ (routed to the "support" mailbox)."""
    return inbound(
        **{
            "From": f"Ann <{PERSON}>",
            "FromFull": {"Email": PERSON, "Name": "Ann", "MailboxHash": ""},
            "ToFull": [{"Email": "support@in.example.com", "Name": "", "MailboxHash": ""}],
            "Headers": [{"Name": "Message-ID", "Value": "<CAM1@mail.example.org>"}],
            **changes,
        }
    )


@pytest.fixture
def locmem(settings: Any) -> list[Any]:
    settings.EMAIL_BACKEND = LOCMEM
    outbox.outbox = []
    return outbox.outbox


def test_a_bounce_answers_the_sender_once_and_the_record_says_so(
    deliver: Deliver, immediate: None, mailboxes: Mailboxes, locmem: list[Any]
) -> None:
    mailboxes.actions["support"] = lambda mail: mail.bounce("This ticket is closed.")
    payload = from_a_person()
    deliver(payload)

    [notice] = locmem
    assert notice.to == [PERSON] and notice.body == "This ticket is closed."
    assert notice.subject == "Re: Test subject" and notice.extra_headers["Auto-Submitted"]
    row = record(payload)
    assert row.status == Status.BOUNCED and row.mailbox == "support"
    assert row.note == "This ticket is closed.\nNotice: sent"


def test_a_bounce_takes_its_own_note_subject_and_sender(
    deliver: Deliver, immediate: None, mailboxes: Mailboxes, locmem: list[Any]
) -> None:
    mailboxes.actions["support"] = lambda mail: mail.bounce(
        "Closed.", note="ticket 4 closed", subject="Ticket 4", from_email="desk@example.com"
    )
    payload = from_a_person()
    deliver(payload)

    [notice] = locmem
    assert (notice.subject, notice.from_email, notice.body) == (
        "Ticket 4",
        "desk@example.com",
        "Closed.",
    )
    assert record(payload).note == "ticket 4 closed\nNotice: sent"


def test_a_drop_answers_nobody_and_is_recorded(
    deliver: Deliver, immediate: None, mailboxes: Mailboxes, locmem: list[Any]
) -> None:
    mailboxes.actions["support"] = lambda mail: mail.drop("spam from a known address")
    payload = from_a_person()
    deliver(payload)

    assert locmem == []
    row = record(payload)
    assert row.status == Status.BOUNCED
    assert row.note == "spam from a known address\nDropped: no notice sent"


def test_of_bounce_and_drop_the_last_call_decides(
    deliver: Deliver, immediate: None, mailboxes: Mailboxes, locmem: list[Any]
) -> None:
    def both(mail: InboundMail) -> None:
        mail.bounce("first")
        mail.drop("then dropped")

    mailboxes.actions["support"] = both
    payload = from_a_person()
    deliver(payload)
    assert locmem == [] and record(payload).note == "then dropped\nDropped: no notice sent"


@pytest.mark.parametrize(
    ("changes", "line"),
    [
        (
            {"Headers": [{"Name": "Auto-Submitted", "Value": "auto-replied"}]},
            "Notice not sent: automated (Auto-Submitted: auto-replied)",
        ),
        (
            {"From": "no-reply@example.org", "FromFull": {"Email": "no-reply@example.org"}},
            "Notice not sent: automated (no-reply@ is a machine's address)",
        ),
        (
            {"Headers": [{"Name": "X-Postmark-Notice", "Value": "1"}]},
            "Notice not sent: loop (the message is a notice (X-Postmark-Notice))",
        ),
    ],
)
def test_a_bounce_never_answers_a_machine_or_a_notice_and_the_record_says_why(
    deliver: Deliver,
    immediate: None,
    mailboxes: Mailboxes,
    locmem: list[Any],
    changes: dict[str, Any],
    line: str,
) -> None:
    mailboxes.actions["support"] = lambda mail: mail.bounce("Closed.")
    payload = from_a_person(**changes)
    deliver(payload)
    assert locmem == []
    row = record(payload)
    assert row.status == Status.BOUNCED and row.note == f"Closed.\n{line}"


def test_a_suppressed_sender_gets_no_notice_through_the_postmark_backend(
    deliver: Deliver, immediate: None, mailboxes: Mailboxes, postmark_sandbox: Sandbox
) -> None:
    Suppression.objects.create(
        email=PERSON, reason=Suppression.Reason.HARD_BOUNCE, suppressed_at="2026-01-01T00:00Z"
    )
    mailboxes.actions["support"] = lambda mail: mail.bounce("Closed.")
    payload = from_a_person()
    deliver(payload)
    assert postmark_sandbox.messages == []
    assert record(payload).note == "Closed.\nNotice not sent: suppressed (the sender is suppressed)"


def test_the_notice_goes_after_the_bounce_is_committed(
    deliver: Deliver, immediate: None, mailboxes: Mailboxes, postmark_sandbox: Sandbox
) -> None:
    seen: list[tuple[str, str]] = []

    def status_when_sent(sender: Any, **kwargs: Any) -> None:
        row = InboundMessage.objects.get()
        seen.append((row.status, row.note))

    mailboxes.actions["support"] = lambda mail: mail.bounce("Closed.")
    pre_send.connect(status_when_sent, weak=False)
    try:
        deliver(from_a_person())
    finally:
        pre_send.disconnect(status_when_sent)
    assert seen == [(Status.BOUNCED, "Closed.\nNotice: sending")]
    assert len(postmark_sandbox.messages) == 1
    assert InboundMessage.objects.get().note == "Closed.\nNotice: sent"


def test_a_run_that_fails_after_bouncing_sends_nothing_and_its_retry_answers_once(
    deliver: Deliver, immediate: None, mailboxes: Mailboxes, locmem: list[Any], commit: Any
) -> None:
    mailboxes.actions["support"] = lambda mail: mail.bounce("Closed.")
    mailboxes.failing["support"] = RuntimeError("after bouncing")
    payload = from_a_person()
    deliver(payload)
    assert locmem == [] and record(payload).status == Status.FAILED

    del mailboxes.failing["support"]
    for _ in range(2):  # reprocessed twice: the second finds it bounced and leaves it
        with commit(execute=True):
            reprocess(InboundMessage.objects.all())
    assert process(payload["MessageID"]).status == Status.BOUNCED  # a task delivered again

    assert len(locmem) == 1 and record(payload).note == "Closed.\nNotice: sent"


class Broken(EmailBackend):
    def send_messages(self, messages: Any) -> int:
        raise ValueError("not configured")


def test_a_notice_whose_backend_raises_leaves_the_mail_bounced_and_says_so(
    deliver: Deliver, immediate: None, mailboxes: Mailboxes, settings: Any
) -> None:
    settings.EMAIL_BACKEND = f"{__name__}.Broken"
    mailboxes.actions["support"] = lambda mail: mail.bounce("Closed.")
    payload = from_a_person()
    deliver(payload)
    row = record(payload)
    assert row.status == Status.BOUNCED and row.error == ""
    assert row.note == "Closed.\nNotice not sent: failed (ValueError)"


def test_a_bounce_without_text_fails_in_the_mailbox_that_called_it(
    deliver: Deliver, immediate: None, mailboxes: Mailboxes, locmem: list[Any]
) -> None:
    mailboxes.actions["support"] = lambda mail: mail.bounce(None)
    payload = from_a_person()
    deliver(payload)
    row = record(payload)
    assert row.status == Status.FAILED and "text must be a str" in row.error
