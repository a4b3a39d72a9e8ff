"""``event.message`` of inbound mail as it really arrives, posted to the inbound webhook: every
recipient the JSON names, with or without the raw MIME; attachments whose content type has
parameters; inline parts that keep their Content-ID; hostile address text.

Payloads are generated (``tests.support.inbound_mail``); each test posts them through Django's
test client and reads the message a receiver of ``inbound_received`` gets.
"""

from __future__ import annotations

import base64
import uuid
from email import message_from_bytes
from email.message import EmailMessage as MimeMessage
from email.policy import default as modern_email
from email.utils import parseaddr
from typing import Any

from django.core.mail import EmailMultiAlternatives
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase

from postmark import signals
from postmark.models import WebhookEvent
from tests.support import inbound_mail
from tests.support import webhook_payloads as payloads
from tests.support.inbound_mail import File, Mail
from tests.support.webhook_helpers import INBOUND_URL, post


class InboundMessages(TestCase):
    """Posts inbound mail and keeps the message each event's receiver reads (rendered, as a
    user's receiver would render it)."""

    def setUp(self) -> None:
        self.messages: list[EmailMultiAlternatives] = []

        def receive(event: Any, **kwargs: Any) -> None:
            event.message.message().as_bytes()
            self.messages.append(event.message)

        signals.inbound_received.connect(receive, weak=False)
        self.addCleanup(signals.inbound_received.disconnect, receive)

    def posted(self, payload: dict[str, Any]) -> EmailMultiAlternatives:
        self.messages.clear()
        response = post(self.client, payload, INBOUND_URL)
        assert response.status_code == 200, response.content
        [message] = self.messages
        return message


def bare(addresses: list[str]) -> list[str]:
    return [parseaddr(address)[1].lower() for address in addresses]


def rendered(message: EmailMultiAlternatives) -> MimeMessage:
    parsed = message_from_bytes(message.message().as_bytes(), policy=modern_email)
    assert isinstance(parsed, MimeMessage)
    return parsed


class Recipients(InboundMessages):
    @given(mail=inbound_mail.recipients())
    def test_every_recipient_the_json_names_is_on_the_message_whatever_the_source(
        self, mail: Mail
    ) -> None:
        message = self.posted(mail.payload)

        for key in ("to", "cc", "bcc", "reply_to"):
            on_message = bare(getattr(message, key) or [])
            assert sorted(on_message) == sorted(mail.expected[key]), key  # each once

    def test_bcc_from_the_json_is_kept_beside_the_raw_headers(self) -> None:
        raw = inbound_mail.raw_email({"To": "Support <support@example.com>"})
        bcc = [{"Email": "hidden@example.com", "Name": "Hidden", "MailboxHash": ""}]

        message = self.posted(payloads.inbound(RawEmail=raw, BccFull=bcc, Bcc="hidden@x"))

        assert message.bcc == ["Hidden <hidden@example.com>"]
        assert message.subject == "Raw"  # the rest still comes from the raw MIME

    @given(
        name=st.text(st.sampled_from(list(' \t()<>"\\,;:@é')), max_size=30),
        run=st.integers(0, 3000),
        opener=st.sampled_from(["(", ":", "<", '"', "\\"]),
    )
    def test_hostile_address_text_builds_a_message_that_renders(
        self, name: str, run: int, opener: str
    ) -> None:
        hostile = name + opener * (run // 3) + " " * run + "( <hostile@example.com>"
        payload = payloads.inbound(
            MessageID=str(uuid.uuid4()),
            To=f"{hostile}, Plain <plain@example.com>",
            ToFull=[],
            ReplyTo=hostile,
            RawEmail=inbound_mail.raw_email({"Cc": hostile}),
        )

        message = self.posted(payload)

        for address in bare(message.to + message.cc + message.reply_to):
            assert address.count("@") == 1 and address == "".join(address.split())


def attachments_payload(files: list[File], raw: bool, data_key: str) -> dict[str, Any]:
    changes: dict[str, Any] = {
        "MessageID": str(uuid.uuid4()),
        "Attachments": [inbound_mail.json_attachment(f, data_key) for f in files],
    }
    if raw:
        boundary = "b-" + uuid.uuid4().hex
        body = "".join(f"--{boundary}\r\n{inbound_mail.mime_part(f)}\r\n" for f in files)
        body = (
            f"--{boundary}\r\nContent-Type: text/plain\r\n\r\nRaw body\r\n{body}--{boundary}--\r\n"
        )
        changes["RawEmail"] = inbound_mail.raw_email(
            {}, body, f'multipart/mixed; boundary="{boundary}"'
        )
    return payloads.inbound(**changes)


class Attachments(InboundMessages):
    @given(
        files=st.lists(st.integers(0, 10**6), min_size=1, max_size=3).flatmap(
            lambda keys: st.tuples(*(inbound_mail.files(i) for i in range(len(keys))))
        ),
        raw=st.booleans(),
        data_key=st.sampled_from(["Content", "Data"]),
    )
    def test_each_file_keeps_its_type_its_content_and_its_content_id(
        self, files: tuple[File, ...], raw: bool, data_key: str
    ) -> None:
        message = self.posted(attachments_payload(list(files), raw, data_key))

        parts = inbound_mail.parts_by_name(rendered(message))
        for file in files:
            part = parts[file.name]
            assert part.get_content_type() == file.kind, file.content_type
            if file.content_id:
                assert part["Content-ID"] == f"<{file.content_id}>"
                assert part.get_content_disposition() == "inline"
            if file.text is not None:  # (Django 6 ends a text part with a line break)
                assert part.get_content().removesuffix("\n") == file.text
            elif file.kind == "message/rfc822":
                assert part.get_payload(0)["Subject"] == "Fwd"
            else:
                assert part.get_payload(decode=True) == file.data
        regular = {f.name: f.kind for f in files if not f.content_id}
        kept = {a[0]: a[2] for a in message.attachments if isinstance(a, tuple)}
        assert kept == regular  # a file without a ContentID stays an (name, content, type)

    def test_inline_images_of_a_related_html_body_in_the_raw_mime_keep_their_content_id(
        self,
    ) -> None:
        png = base64.b64encode(b"\x89PNG image").decode()
        body = (
            "--m\r\nContent-Type: multipart/alternative; boundary=a\r\n\r\n"
            "--a\r\nContent-Type: text/plain\r\n\r\nSee the logo\r\n"
            "--a\r\nContent-Type: multipart/related; boundary=r\r\n\r\n"
            '--r\r\nContent-Type: text/html\r\n\r\n<img src="cid:logo@shop">\r\n'
            "--r\r\nContent-Type: image/png; name=logo.png\r\nContent-ID: <logo@shop>\r\n"
            f"Content-Transfer-Encoding: base64\r\n\r\n{png}\r\n--r--\r\n--a--\r\n"
            "--m\r\nContent-Type: application/pdf\r\n"
            'Content-Disposition: attachment; filename="bill.pdf"\r\n\r\n%PDF\r\n--m--\r\n'
        )
        raw = inbound_mail.raw_email({}, body, "multipart/mixed; boundary=m")

        message = self.posted(payloads.inbound(RawEmail=raw, Attachments=[]))

        assert message.body.strip() == "See the logo"
        assert 'src="cid:logo@shop"' in message.alternatives[0][0]
        [logo] = [p for p in rendered(message).walk() if p["Content-ID"] == "<logo@shop>"]
        assert (logo.get_content_type(), logo.get_payload(decode=True)) == (
            "image/png",
            b"\x89PNG image",
        )
        assert {str(p.get_filename()) for p in rendered(message).iter_attachments()} >= {"bill.pdf"}

    def test_an_inline_file_sent_as_data_by_the_check_button_keeps_its_content_id(
        self,
    ) -> None:
        pixel = {
            "Name": "pixel.gif",
            "Data": base64.b64encode(b"GIF89a").decode(),
            "ContentType": "image/gif",
            "ContentID": "cid:pixel@inline",
        }

        message = self.posted(payloads.inbound(Attachments=[pixel]))

        [part] = [p for p in rendered(message).walk() if p.get_filename() == "pixel.gif"]
        assert (part["Content-ID"], part.get_payload(decode=True)) == ("<pixel@inline>", b"GIF89a")
        assert WebhookEvent.objects.get().status == WebhookEvent.Status.PROCESSED


CHARSETS = ["utf-8", "ISO-8859-1", "x-unknown", "base64", "rot13", "idna", "utf-16", "", "é"]
TEXT_CODECS = {"utf-8": "utf-8", "ISO-8859-1": "latin-1", "utf-16": "utf-16"}


class Charsets(InboundMessages):
    @given(
        charset=st.one_of(
            st.sampled_from(CHARSETS),
            st.text(st.characters(exclude_categories=("Cc", "Cs")), max_size=12),
        ),
        data=st.sampled_from([b"cafe", "café".encode(), "café".encode("latin-1"), b"\xff\xfe"]),
        raw=st.booleans(),
    )
    def test_a_text_file_in_any_charset_keeps_its_type_and_its_text_when_it_decodes(
        self, charset: str, data: bytes, raw: bool
    ) -> None:
        content_type = f'text/plain; charset="{charset}"'
        file = File("note.txt", "text/plain", content_type, data)

        message = self.posted(attachments_payload([file], raw, "Content"))

        [part] = [p for p in rendered(message).walk() if p.get_filename() == "note.txt"]
        try:
            text = data.decode(TEXT_CODECS[charset])
        except (KeyError, ValueError):
            # Another name, or bytes it does not decode: Django keeps bytes that are not UTF-8
            # as application/octet-stream.
            assert part.get_content_type() in ("text/plain", "application/octet-stream")
        else:
            assert part.get_content().removesuffix("\n") == text


class AttachedMessages(InboundMessages):
    @given(
        kind=st.sampled_from(
            [
                "message/rfc822",
                "message/delivery-status",
                "message/partial",
                "message/global",
                "message/disposition-notification",
                "message/external-body",
            ]
        ),
        raw=st.booleans(),
    )
    def test_an_attached_message_of_any_kind_leaves_the_rest_of_the_mail_whole(
        self, kind: str, raw: bool
    ) -> None:
        file = File("attached", kind, kind, inbound_mail.ATTACHED_MESSAGE)

        message = self.posted(attachments_payload([file], raw, "Content"))

        assert message.subject == ("Raw" if raw else "Test subject")  # the raw copy was usable
        # Nothing else was dropped to make it render (the raw copy has no HTML, no X- header).
        assert raw or (message.alternatives and message.extra_headers)
        [part] = [p for p in rendered(message).walk() if p.get_filename() == "attached"]
        assert part.get_content_type() in (kind, "application/octet-stream")
