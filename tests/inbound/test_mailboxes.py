"""Mailboxes are ordinary receivers: ``@mailbox("x")`` is ``inbound_routed.connect(fn,
sender=Mailbox.named("x"))``, swappable and disconnectable; attachment names never become
paths."""

from __future__ import annotations

import copy
import os
import pickle
from pathlib import PurePosixPath, PureWindowsPath
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from postmark.events import InboundEvent
from postmark.inbound import InboundMail, Mailbox, mailbox, safe_filename
from postmark.inbound.mailboxes import MAX_NAME
from postmark.models import InboundMessage
from postmark.signals import inbound_routed
from tests.inbound.conftest import Deliver, inbound, record
from tests.support import webhook_payloads as payloads

Status = InboundMessage.Status


def test_a_mailbox_is_one_object_per_name() -> None:
    assert Mailbox("support") is Mailbox.named("support")
    assert copy.deepcopy(Mailbox("support")) is Mailbox("support")
    assert pickle.loads(pickle.dumps(Mailbox("support"))) is Mailbox("support")
    assert Mailbox("support") is not Mailbox("Support")
    with pytest.raises(ValueError, match="non-empty string"):
        Mailbox(" ")


@pytest.mark.django_db
def test_the_decorator_connects_an_ordinary_receiver_that_can_be_disconnected(
    deliver: Deliver, immediate: None, settings: Any
) -> None:
    settings.POSTMARK_INBOUND_ROUTES = [{"mailbox": "desk"}]
    seen: list[str] = []

    @mailbox("desk", weak=False)
    def desk(sender: Mailbox, mail: InboundMail, **kwargs: Any) -> None:
        seen.append(mail.event.subject)

    def other(sender: Mailbox, mail: InboundMail, **kwargs: Any) -> None:
        seen.append("other mailbox")

    inbound_routed.connect(other, sender=Mailbox.named("elsewhere"), weak=False)
    try:
        assert Mailbox("desk").has_receivers
        deliver(inbound(Subject="one"))
        assert inbound_routed.disconnect(desk, sender=Mailbox.named("desk"))
    finally:
        inbound_routed.disconnect(other, sender=Mailbox.named("elsewhere"))
    payload = inbound(Subject="two")
    deliver(payload)
    assert seen == ["one"]  # only the mailbox's own receivers, and not after disconnecting
    assert record(payload).status == Status.FAILED  # kept, to reprocess once one is connected


@pytest.mark.django_db
def test_every_receiver_of_the_mailbox_runs_in_one_transaction(
    deliver: Deliver, immediate: None, settings: Any
) -> None:
    settings.POSTMARK_INBOUND_ROUTES = [{"mailbox": "pair"}]
    order: list[str] = []

    def first(mail: InboundMail, **kwargs: Any) -> None:
        order.append("first")

    def second(mail: InboundMail, **kwargs: Any) -> None:
        order.append(f"second sees {mail.record.status}")

    for receiver in (first, second):
        inbound_routed.connect(receiver, sender=Mailbox.named("pair"), weak=False)
    try:
        payload = inbound()
        deliver(payload)
    finally:
        for receiver in (first, second):
            inbound_routed.disconnect(receiver, sender=Mailbox.named("pair"))
    assert order == ["first", "second sees routed"]
    assert record(payload).status == Status.PROCESSED


# --- Attachment names ---------------------------------------------------------------------------


@given(st.text(max_size=300), st.integers(1, 1000))
@example("../../etc/passwd", 1)
@example("..\\..\\windows\\system32\\cmd.exe", 1)
@example("C:\\boot.ini", 1)
@example("..", 2)
@example(".bashrc", 3)
@example("a\x00b\r\nc.txt", 4)
@example("CON.txt", 5)
@example("x" * 300 + ".pdf", 6)
@example("   ", 7)
@example("report.pdf\u202egnp.exe", 8)
def test_an_attachment_name_never_becomes_a_path(name: str, number: int) -> None:
    safe = safe_filename(name, number)
    assert safe and len(safe) <= MAX_NAME
    assert PurePosixPath(safe).name == safe and PureWindowsPath(safe).name == safe
    assert not safe.startswith(".") and not safe.endswith((".", " "))
    assert all(char.isprintable() for char in safe) and not set(safe) & set('/\\<>:"|?*')
    joined = os.path.normpath(os.path.join("/uploads", safe))
    assert os.path.dirname(joined) == "/uploads"


def test_a_usual_name_is_kept_as_it_is() -> None:
    assert safe_filename("Quarterly report (final).pdf", 1) == "Quarterly report (final).pdf"
    assert safe_filename("фото.jpg", 1) == "фото.jpg"
    assert safe_filename("", 3) == "attachment-3"


@pytest.mark.django_db
def test_the_mailbox_gets_safe_names_and_django_files_for_the_attachments(
    deliver: Deliver, immediate: None, mailboxes: Any
) -> None:
    attachment = {"Name": "../secret/../../a.txt", "Content": "aGk=", "ContentType": "text/plain"}
    deliver(inbound(Attachments=[attachment]))
    [(_, mail)] = mailboxes.calls
    [file] = mail.attachments
    assert (file.name, file.original_name, file.content) == ("a.txt", attachment["Name"], b"hi")
    as_file = file.as_file()
    assert as_file.name == "a.txt" and as_file.read() == b"hi"


def test_the_recipients_are_every_address_once_lowercased() -> None:
    event = InboundEvent.from_payload(
        payloads.inbound(
            OriginalRecipient="Desk@X.com",
            ToFull=[{"Email": "desk@x.com"}, {"Email": "B@x.com"}],
            CcFull=[],
            Cc="c@x.com, B@X.com",
            BccFull=[],
            Bcc="hidden@x.com",
        )
    )
    mail = InboundMail(InboundMessage(), event)
    assert mail.recipients == ("desk@x.com", "b@x.com", "c@x.com", "hidden@x.com")
