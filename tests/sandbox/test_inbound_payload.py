"""Postmark's inbound JSON as the sandbox and the test helpers build it
(``postmark.sandbox.inbound_payload``), read back by the app's own parser
(``postmark.events.inbound.InboundEvent``): whatever is written, the app reads the same mail,
and no header of the JSON or of its raw message ever carries a line break."""

from __future__ import annotations

import base64
from email import policy
from email.parser import BytesParser
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from postmark.events.inbound import InboundEvent
from postmark.sandbox import inbound_mime, inbound_payload
from postmark.sandbox.inbound_payload import (
    AttachedFile,
    MailError,
    as_bytes,
    compose,
    payload,
    stripped_reply,
)
from postmark.storage.values import clean_text
from tests.support.inbound_mail import addresses, local_parts

LINE_BREAKS = ("\r", "\n", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029")
INJECTIONS = ["\r\nBcc: evil@example.com", "\nX-Injected: yes", "\rX-Injected: yes", "\u2028X: 1"]
#: Any text, with a header injection attempt somewhere in it often enough.
hostile_text = st.one_of(
    st.text(max_size=60),
    st.builds(
        "{}{}{}".format, st.text(max_size=20), st.sampled_from(INJECTIONS), st.text(max_size=20)
    ),
)
CONTENT_TYPES = [
    "text/plain",
    "image/png",
    "application/pdf",
    "no-slash",
    "text/csv; charset=utf-8",
]


def words(value: str) -> str:
    """The text as the app keeps it, whitespace aside: mail trims and folds whitespace at the
    edges of a header and inside a display name, and the app's text rule replaces NUL."""
    return " ".join(clean_text(value).split())


def header_texts(body: dict[str, Any]) -> list[str]:
    """Every value of the JSON that stands for a header (or a part's header)."""
    values = [body[name] for name in ("From", "FromName", "To", "Cc", "Bcc", "ReplyTo")]
    values += [body[name] for name in ("Subject", "Date", "OriginalRecipient", "MailboxHash")]
    for field in ("FromFull", *body["ToFull"], *body["CcFull"], *body["BccFull"]):
        item = body["FromFull"] if field == "FromFull" else field
        values += [item["Email"], item["Name"], item["MailboxHash"]]
    values += [text for header in body["Headers"] for text in (header["Name"], header["Value"])]
    for attachment in body["Attachments"]:
        values += [attachment["Name"], attachment["ContentType"], attachment["ContentID"]]
    return values


@given(
    name=hostile_text,
    sender=addresses,
    to_name=hostile_text,
    to=addresses,
    subject=hostile_text,
    header_value=hostile_text,
    filename=hostile_text,
    raw=st.booleans(),
)
def test_no_header_of_the_json_or_its_raw_message_carries_a_line_break(
    name: str,
    sender: str,
    to_name: str,
    to: str,
    subject: str,
    header_value: str,
    filename: str,
    raw: bool,
) -> None:
    message = compose(
        from_email=(name, sender),
        to=[(to_name, to)],
        subject=subject,
        text="Body",
        headers=[("X-Note", header_value)],
        attachments=[AttachedFile(filename or "file", b"data")],
    )
    body = payload(message, raw_email=raw)
    for value in header_texts(body):
        assert not any(mark in value for mark in LINE_BREAKS), repr(value)
    source = BytesParser(policy=policy.default).parsebytes(as_bytes(message))
    written = {"from", "to", "subject", "date", "message-id", "x-note"}
    assert {key.lower() for key in source} == written | {"mime-version", "content-type"}
    assert ("RawEmail" in body) is raw


@given(
    name=st.text(max_size=30),
    sender=addresses,
    to_name=st.text(max_size=30),
    to=addresses,
    subject=st.text(max_size=120),
    text=st.text(max_size=200),
    filename=st.text(min_size=1, max_size=30),
    content=st.binary(max_size=200),
    content_type=st.sampled_from(CONTENT_TYPES),
    raw=st.booleans(),
)
def test_any_written_mail_reads_back_the_same_through_the_apps_parser(
    name: str,
    sender: str,
    to_name: str,
    to: str,
    subject: str,
    text: str,
    filename: str,
    content: bytes,
    content_type: str,
    raw: bool,
) -> None:
    message = compose(
        from_email=(name, sender),
        to=[(to_name, to)],
        subject=subject,
        text=text,
        attachments=[AttachedFile(filename, content, content_type)],
    )
    event = InboundEvent.from_payload(payload(message, raw_email=raw))
    assert (event.from_email, words(event.from_name)) == (sender, words(name))
    [recipient] = event.to_full
    assert (recipient.email, words(recipient.name)) == (to, words(to_name))
    assert words(event.subject) == words(subject)
    # The text as MIME carries it: each line ended by "\n", the last one too.
    lines = [line.decode() for line in text.encode().splitlines()]
    assert event.text_body == clean_text("\n".join(lines) + "\n")
    [attachment] = event.attachments
    assert attachment.content == content
    assert words(attachment.name) == words(filename) or not words(filename)
    # The Django message builds and renders, from the raw MIME or from the fields.
    assert event.message.message().as_bytes()
    assert event.message.attachments


@given(local=local_parts, mailbox=st.from_regex(r"[A-Za-z0-9_.-]{1,20}", fullmatch=True))
def test_the_mailbox_hash_is_what_follows_the_plus_of_the_address_it_came_to(
    local: str, mailbox: str
) -> None:
    base = local.partition("+")[0]
    address = f"{base}+{mailbox}@in.example.com"
    message = compose(from_email="ann@example.com", to=["other@example.com", address])
    by_default = payload(message)
    assert by_default["OriginalRecipient"] == "other@example.com"
    assert by_default["ToFull"][1]["MailboxHash"] == mailbox
    chosen = payload(message, recipient=address)
    assert (chosen["OriginalRecipient"], chosen["MailboxHash"]) == (address, mailbox)
    assert InboundEvent.from_payload(chosen).mailbox_hash == mailbox


def test_a_recipient_on_no_header_arrives_as_a_bcc() -> None:
    message = compose(from_email="ann@example.com", to="list@example.com")
    body = payload(message, recipient="desk+7@in.example.com", bcc=["audit@example.com"])
    assert body["Bcc"] == "audit@example.com, desk+7@in.example.com"
    assert [item["Email"] for item in body["BccFull"]] == [
        "audit@example.com",
        "desk+7@in.example.com",
    ]
    assert (body["OriginalRecipient"], body["MailboxHash"]) == ("desk+7@in.example.com", "7")


EML = (
    b"From: =?utf-8?q?Zo=C3=AB?= <zoe@example.com>\r\n"
    b'To: "Help Desk" <help+ticket-9@in.example.com>, other@example.com\r\n'
    b"Cc: cc@example.com\r\n"
    b"Reply-To: replies@example.com\r\n"
    b"Subject: Re: your order\r\n"
    b"Date: Tue, 06 Jan 2026 10:00:00 +0000\r\n"
    b"Message-ID: <original@example.com>\r\n"
    b"X-Custom: kept\r\n"
    b"MIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="outer"\r\n'
    b"\r\n"
    b"--outer\r\n"
    b'Content-Type: multipart/related; boundary="rel"\r\n'
    b"\r\n"
    b"--rel\r\n"
    b'Content-Type: multipart/alternative; boundary="alt"\r\n'
    b"\r\n"
    b"--alt\r\n"
    b"Content-Type: text/plain; charset=iso-8859-1\r\n"
    b"Content-Transfer-Encoding: 8bit\r\n"
    b"\r\n"
    b"Merci, \xe7a marche.\r\n"
    b"\r\n"
    b"On Mon, 5 Jan 2026 at 09:00, Shop <shop@example.com>\r\n"
    b"wrote:\r\n"
    b"> Your order shipped.\r\n"
    b"--alt\r\n"
    b"Content-Type: text/html; charset=utf-8\r\n"
    b"\r\n"
    b'<p>Merci <img src="cid:logo@example.com"></p>\r\n'
    b"--alt--\r\n"
    b"--rel\r\n"
    b"Content-Type: image/png\r\n"
    b"Content-Transfer-Encoding: base64\r\n"
    b"Content-ID: <logo@example.com>\r\n"
    b'Content-Disposition: inline; filename="logo.png"\r\n'
    b"\r\n"
    b"iVBORw0KGgo=\r\n"
    b"--rel--\r\n"
    b"--outer\r\n"
    b"Content-Type: message/rfc822\r\n"
    b'Content-Disposition: attachment; filename="<forwarded>.eml"\r\n'
    b"\r\n"
    b"From: a@example.com\r\n"
    b"Subject: inner\r\n"
    b"\r\n"
    b"inner body\r\n"
    b"--outer--\r\n"
)


def test_an_eml_becomes_every_field_postmark_posts() -> None:
    body = payload(EML, message_id="3f4d2a5e-0000-4000-8000-000000000001")
    assert (body["From"], body["FromName"]) == ("zoe@example.com", "Zoë")
    assert body["To"] == '"Help Desk" <help+ticket-9@in.example.com>, other@example.com'
    assert body["ToFull"][0] == {
        "Email": "help+ticket-9@in.example.com",
        "Name": "Help Desk",
        "MailboxHash": "ticket-9",
    }
    assert (body["Cc"], body["ReplyTo"], body["Bcc"]) == (
        "cc@example.com",
        "replies@example.com",
        "",
    )
    assert (body["OriginalRecipient"], body["MailboxHash"]) == (
        "help+ticket-9@in.example.com",
        "ticket-9",
    )
    assert (body["Subject"], body["Date"]) == ("Re: your order", "Tue, 06 Jan 2026 10:00:00 +0000")
    assert body["MessageID"] == "3f4d2a5e-0000-4000-8000-000000000001"
    assert body["TextBody"].startswith("Merci, ça marche.\n")  # its charset read
    assert body["StrippedTextReply"] == "Merci, ça marche."
    assert body["HtmlBody"] == '<p>Merci <img src="cid:logo@example.com"></p>'
    headers = {item["Name"]: item["Value"] for item in body["Headers"]}
    assert headers["X-Custom"] == "kept" and headers["Message-ID"] == "<original@example.com>"
    assert headers["X-Spam-Status"] == "No"
    assert not {"From", "To", "Subject", "Content-Type"} & set(headers)
    logo, forwarded = body["Attachments"]
    assert logo == {
        "Name": "logo.png",
        "Content": "iVBORw0KGgo=",
        "ContentType": "image/png",
        "ContentLength": 8,
        "ContentID": "logo@example.com",
    }
    # An attached message is one attachment, its source as it was; its name keeps its brackets.
    assert forwarded["Name"] == "<forwarded>.eml"
    assert forwarded["ContentType"] == "message/rfc822"
    assert b"Subject: inner" in base64.b64decode(forwarded["Content"])
    # Not UTF-8 (a Latin-1 body sent 8-bit): the raw text has that part in a 7-bit encoding,
    # so that the app's message, built from RawEmail, reads the same text.
    assert body["RawEmail"].isascii() and "X-Custom: kept" in body["RawEmail"]
    message = InboundEvent.from_payload(body).message
    assert message.body.splitlines()[0] == "Merci, ça marche."
    assert (message.subject, message.from_email) == ("Re: your order", "Zoë <zoe@example.com>")
    assert message.to == ["Help Desk <help+ticket-9@in.example.com>", "other@example.com"]
    assert (message.cc, message.reply_to) == (["cc@example.com"], ["replies@example.com"])
    assert [_name(item) for item in message.attachments] == ["logo.png", "<forwarded>.eml"]


def _name(attachment: Any) -> str:
    return str(attachment[0] if isinstance(attachment, tuple) else attachment.get_filename())


@pytest.mark.parametrize(
    ("text", "reply"),
    [
        ("Thanks!\n\nOn Tue, 6 Jan 2026, Shop <shop@example.com> wrote:\n> hi", "Thanks!"),
        ("Yes.\nOn Tue, 6 Jan 2026 at 10:00, Ann Example <\nann@example.com> wrote:\n> q", "Yes."),
        ("Fine\n> quoted\nmore", "Fine"),
        ("Ok\n\n-----Original Message-----\nFrom: x", "Ok"),
        ("Ok\n________________________________\nFrom: x", "Ok"),
        (
            "Nothing quoted here.\nOn the other hand, fine.\n",
            "Nothing quoted here.\nOn the other hand, fine.",
        ),
        ("> all quoted", ""),
    ],
)
def test_the_stripped_reply_leaves_the_quoted_message_out(text: str, reply: str) -> None:
    assert stripped_reply(text) == reply


@given(reply=st.text(max_size=200), quoted=st.text(max_size=200))
def test_whatever_follows_a_quote_line_is_left_out(reply: str, quoted: str) -> None:
    lines = [line for line in reply.splitlines() if not line.strip().startswith(("On ", ">"))]
    lines = [line for line in lines if line.strip().lower() not in ("-----original message-----",)]
    lines = [line for line in lines if line.strip() != "_" * 32]
    own = "\n".join(lines)
    assert stripped_reply(f"{own}\n> {quoted}") == own.rstrip()


def test_mail_past_postmarks_limits_is_refused_as_too_large(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(inbound_payload, "MAX_INBOUND_ATTACHMENT_BYTES", 100)
    message = compose(
        from_email="ann@example.com",
        to="desk@example.com",
        attachments=[AttachedFile("a.bin", b"x" * 60), AttachedFile("b.bin", b"y" * 60)],
    )
    with pytest.raises(MailError) as attachments:
        payload(message)
    assert attachments.value.too_large
    monkeypatch.setattr(inbound_mime, "MAX_EML_BYTES", 1000)
    with pytest.raises(MailError) as source:
        payload(b"From: ann@example.com\r\n\r\n" + b"x" * 1000)
    assert source.value.too_large


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"from_email": "not an address"}, "From: not a list of addresses"),
        ({"from_email": ("Ann", "no-at-sign")}, "From: not an address"),
        ({"from_email": ""}, "needs a From"),
        ({"to": []}, "needs a To"),
        ({"to": "desk@example.com, nobody"}, "To: not a list of addresses"),
        ({"headers": [("Bad Name", "x")]}, "header"),
        ({"headers": [("Content-Type", "text/html")]}, "header"),
    ],
)
def test_what_is_not_mail_is_a_mail_error(fields: dict[str, Any], problem: str) -> None:
    written = {"from_email": "ann@example.com", "to": "desk@example.com", **fields}
    with pytest.raises(MailError, match=problem):
        compose(**written)


def test_a_message_without_a_sender_is_refused() -> None:
    with pytest.raises(MailError, match="From"):
        payload(b"To: desk@example.com\r\nSubject: who?\r\n\r\nbody\r\n")
