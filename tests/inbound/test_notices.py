"""Notices to the sender of inbound mail (``postmark.inbound.notices``): sent through the app's
own send path to a person, and never to a machine, a suppressed address, or in a loop."""

from __future__ import annotations

from email import message_from_bytes
from email.policy import default as default_policy
from typing import Any

import pytest
from django.core import mail
from django.test import override_settings
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase

from postmark.events import InboundEvent
from postmark.inbound.notices import (
    NOTICE_HEADER,
    NoticeOutcome,
    NoticeReason,
    notice_refusal,
    send_notice,
)
from postmark.models import Suppression
from postmark.sandbox import Sandbox
from tests.support import webhook_payloads as payloads
from tests.support.fake_postmark import FakePostmark, Reply

pytestmark = pytest.mark.django_db
LOCMEM = "django.core.mail.backends.locmem.EmailBackend"
PERSON = "ann@example.org"
HUMAN_HEADERS = [
    ("Message-ID", "<CAM123@mail.gmail.com>"),
    ("X-Spam-Status", "No"),
    ("Received-SPF", "Pass (sender SPF authorized) identity=mailfrom"),
    ("Return-Path", f"<{PERSON}>"),
]


def inbound(
    sender: str = PERSON, headers: list[tuple[str, str]] | None = None, **fields: Any
) -> InboundEvent:
    pairs = HUMAN_HEADERS if headers is None else headers
    return InboundEvent.from_payload(
        payloads.inbound(
            From=sender,
            FromFull={"Email": sender, "Name": "Ann", "MailboxHash": ""},
            Headers=[{"Name": name, "Value": value} for name, value in pairs],
            **fields,
        )
    )


@pytest.fixture
def locmem(settings: Any) -> list[Any]:
    settings.EMAIL_BACKEND = LOCMEM
    settings.POSTMARK_INBOUND_DOMAIN = "reply.example.com"
    mail.outbox = []
    return mail.outbox


# --- Sent -----------------------------------------------------------------------------------


def test_a_notice_answers_the_sender_through_the_postmark_backend(
    postmark_sandbox: Sandbox,
) -> None:
    outcome = send_notice(inbound(), "Replies to closed tickets are not kept.")

    assert outcome == NoticeOutcome(True, NoticeReason.SENT, "sent") and outcome
    [notice] = postmark_sandbox.messages
    assert notice.to == [PERSON] and notice.subject == "Re: Test subject"
    assert notice.text_body == "Replies to closed tickets are not kept."
    headers = dict(notice.headers)
    assert headers["Auto-Submitted"] == "auto-replied"
    assert headers["X-Auto-Response-Suppress"] == "All"
    assert headers[NOTICE_HEADER] == "1"
    assert headers["In-Reply-To"] == headers["References"] == "<CAM123@mail.gmail.com>"


def test_a_suppressed_sender_gets_no_notice(postmark_sandbox: Sandbox) -> None:
    Suppression.objects.create(
        email=PERSON, reason=Suppression.Reason.HARD_BOUNCE, suppressed_at="2026-01-01T00:00Z"
    )

    outcome = send_notice(inbound(sender="Ann@Example.org"), "Not kept.")

    assert (outcome.sent, outcome.reason) == (False, NoticeReason.SUPPRESSED) and not outcome
    assert postmark_sandbox.messages == []


def test_a_notice_postmark_refuses_is_failed_and_one_it_may_have_taken_is_unknown(
    fake_postmark: FakePostmark,
) -> None:
    fake_postmark.script(Reply(422, {"ErrorCode": 300, "Message": "Invalid 'To' address."}))
    refused = send_notice(inbound(), "Not kept.")
    assert (refused.sent, refused.reason) == (False, NoticeReason.FAILED)
    assert "Invalid 'To' address" in refused.detail

    fake_postmark.script(Reply(500, {"ErrorCode": 0, "Message": "oops"}))
    unsure = send_notice(inbound(), "Not kept.")
    assert (unsure.sent, unsure.reason) == (False, NoticeReason.UNKNOWN)


def test_subject_and_sender_are_the_callers_when_given(locmem: list[Any]) -> None:
    outcome = send_notice(
        inbound(Subject="Re: Order 12"), "Closed.", subject="Ticket closed", from_email="h@x.org"
    )
    assert outcome.sent
    [notice] = locmem
    assert (notice.subject, notice.from_email, notice.to) == ("Ticket closed", "h@x.org", [PERSON])
    send_notice(inbound(Subject="Re: Order 12"), "Closed.")
    assert locmem[1].subject == "Re: Order 12"  # not "Re: Re: ..."


# --- Never to a machine ---------------------------------------------------------------------

AUTOMATED = [
    ("Auto-Submitted", "auto-replied"),
    ("Auto-Submitted", "auto-generated; owner-email=x@y"),
    ("Auto-Submitted", "auto-notified"),
    ("Precedence", "bulk"),
    ("Precedence", "list"),
    ("Precedence", "junk"),
    ("List-Id", "<news.example.com>"),
    ("List-Unsubscribe", "<mailto:leave@example.com>"),
    ("List-Post", "<mailto:list@example.com>"),
    ("Return-Path", "<>"),
    ("Return-Path", ""),
    ("Return-Path", " < > "),
    ("X-Auto-Response-Suppress", "All"),
    ("X-Auto-Response-Suppress", "OOF, AutoReply"),
    ("X-Autoreply", "yes"),
    ("X-Autorespond", "Out of office"),
    ("Content-Type", 'multipart/report; report-type="delivery-status"'),
]
BENIGN_HEADERS = st.sampled_from(
    [
        *HUMAN_HEADERS,
        ("Auto-Submitted", "no"),
        ("Precedence", "first-class"),
        ("X-Auto-Response-Suppress", "None"),
        ("Content-Type", "multipart/alternative; boundary=x"),
        ("X-Mailer", "Thunderbird"),
        ("Received-SPF", "SoftFail"),
    ]
)
MACHINES = [
    "MAILER-DAEMON@example.org",
    "mailer_daemon@example.org",
    "postmaster@example.org",
    "noreply@example.org",
    "no-reply@example.org",
    "No_Reply+42@example.org",
    "do-not-reply@example.org",
    "donotreply-billing@example.org",
    "noreply.notifications@example.org",
    "bounces+123-abc@example.org",
    "bounce@example.org",
    "owner-news@example.org",
    "news-request@example.org",
    "listserv@example.org",
]


@pytest.mark.parametrize("header", AUTOMATED)
def test_each_header_that_says_automated_is_enough_alone(
    locmem: list[Any], header: tuple[str, str]
) -> None:
    outcome = send_notice(inbound(headers=[header]), "Not kept.")
    assert (outcome.sent, outcome.reason) == (False, NoticeReason.AUTOMATED)
    assert locmem == []


@pytest.mark.parametrize("sender", MACHINES)
def test_each_machines_address_is_enough_alone(locmem: list[Any], sender: str) -> None:
    outcome = send_notice(inbound(sender=sender), "Not kept.")
    assert (outcome.sent, outcome.reason) == (False, NoticeReason.AUTOMATED)
    assert locmem == []


def cased(text: str, upper: list[bool]) -> str:
    return "".join(
        c.upper() if up else c.lower() for c, up in zip(text, upper + [False] * 99, strict=False)
    )


class Automated(TestCase):
    @override_settings(EMAIL_BACKEND=LOCMEM)
    @given(
        machine=st.lists(st.sampled_from(AUTOMATED), min_size=1, max_size=3),
        benign=st.lists(BENIGN_HEADERS, max_size=4),
        cases=st.lists(st.booleans(), max_size=30),
        order=st.randoms(use_true_random=False),
    )
    def test_a_sender_whose_headers_say_automated_is_never_answered(
        self,
        machine: list[tuple[str, str]],
        benign: list[tuple[str, str]],
        cases: list[bool],
        order: Any,
    ) -> None:
        headers = [(cased(name, cases), f" {value}") for name, value in machine] + benign
        order.shuffle(headers)
        mail.outbox = []
        outcome = send_notice(inbound(headers=headers), "Not kept.")
        assert (outcome.sent, outcome.reason) == (False, NoticeReason.AUTOMATED), outcome
        assert mail.outbox == []

    @override_settings(EMAIL_BACKEND=LOCMEM)
    @given(sender=st.sampled_from(MACHINES), benign=st.lists(BENIGN_HEADERS, max_size=4))
    def test_a_machines_address_is_never_answered(
        self, sender: str, benign: list[tuple[str, str]]
    ) -> None:
        mail.outbox = []
        outcome = send_notice(inbound(sender=sender, headers=benign), "Not kept.")
        assert (outcome.sent, outcome.reason) == (False, NoticeReason.AUTOMATED), outcome
        assert mail.outbox == []

    @override_settings(EMAIL_BACKEND=LOCMEM)
    @given(benign=st.lists(BENIGN_HEADERS, max_size=6))
    def test_a_person_whose_headers_say_nothing_automated_is_answered(
        self, benign: list[tuple[str, str]]
    ) -> None:
        mail.outbox = []
        assert send_notice(inbound(headers=benign), "Not kept.").sent
        assert len(mail.outbox) == 1


@pytest.mark.parametrize(
    "header", [("X-Spam-Status", "Yes, score=9.1"), ("Received-SPF", "Fail (not authorized)")]
)
def test_mail_marked_as_spam_or_failing_spf_is_not_answered(
    locmem: list[Any], header: tuple[str, str]
) -> None:
    outcome = send_notice(inbound(headers=[header]), "Not kept.")
    assert (outcome.sent, outcome.reason) == (False, NoticeReason.UNTRUSTED)
    assert locmem == []


@pytest.mark.parametrize(
    "sender", ["", "not an address", "a@b\r\nBcc: victim@example.com", "<>", "a@@b"]
)
def test_a_message_without_a_valid_from_address_is_not_answered(
    locmem: list[Any], sender: str
) -> None:
    event = inbound(sender=sender)
    assert notice_refusal(event) == send_notice(event, "x")
    assert send_notice(event, "x").reason == NoticeReason.NO_SENDER
    assert locmem == []


# --- Never in a loop ------------------------------------------------------------------------


def test_a_notice_that_comes_back_is_not_answered(locmem: list[Any]) -> None:
    send_notice(inbound(), "Not kept.", from_email="help@example.com")
    [notice] = locmem
    # The notice arrives at some inbound mailbox (ours, say) from a third address.
    raw = message_from_bytes(notice.message().as_bytes(), policy=default_policy)
    back = inbound(sender="relay@example.net", headers=list(raw.items()))
    outcome = send_notice(back, "Not kept.")
    assert (outcome.sent, outcome.reason) == (False, NoticeReason.LOOP)
    assert len(locmem) == 1


@pytest.mark.parametrize(
    "sender",
    [
        "someone@reply.example.com",
        "Someone@REPLY.Example.com",
        "yourhash+abc@inbound.postmarkapp.com",
        "sender@example.com",  # DEFAULT_FROM_EMAIL: the notice's own address
    ],
)
def test_mail_from_this_sites_inbound_domains_or_own_address_is_not_answered(
    locmem: list[Any], sender: str
) -> None:
    outcome = send_notice(inbound(sender=sender), "Not kept.")
    assert (outcome.sent, outcome.reason) == (False, NoticeReason.LOOP)
    assert locmem == []


def test_a_message_carrying_the_notice_header_alone_is_not_answered(locmem: list[Any]) -> None:
    outcome = send_notice(inbound(headers=[(NOTICE_HEADER.lower(), "1")]), "Not kept.")
    assert (outcome.sent, outcome.reason) == (False, NoticeReason.LOOP)
    assert locmem == []


# --- No line break reaches a header ---------------------------------------------------------


class Headers(TestCase):
    @override_settings(EMAIL_BACKEND=LOCMEM)
    @given(subject=st.text(max_size=300), message_id=st.text(max_size=60))
    def test_whatever_the_subject_and_message_id_hold_the_notice_renders_without_new_headers(
        self, subject: str, message_id: str
    ) -> None:
        mail.outbox = []
        headers = [("Message-ID", message_id)]
        assert send_notice(inbound(headers=headers, Subject=subject), "Not kept.").sent
        [notice] = mail.outbox
        rendered = message_from_bytes(notice.message().as_bytes(), policy=default_policy)
        assert "\n" not in notice.subject and "\r" not in notice.subject
        assert len(notice.subject) <= 204
        assert rendered["Bcc"] is None and rendered["To"] == PERSON
        if "In-Reply-To" in notice.extra_headers:
            assert notice.extra_headers["In-Reply-To"] == message_id.strip()
            assert not any(char.isspace() for char in message_id.strip())
