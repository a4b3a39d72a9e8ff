"""Every Django message feature, checked in the JSON Postmark's API receives."""

from __future__ import annotations

import base64
from email.mime.base import MIMEBase
from email.mime.image import MIMEImage
from pathlib import Path
from typing import Any

import pytest
from django.core import mail
from django.core.mail import EmailMessage, EmailMultiAlternatives

from tests.support.fake_postmark import FakePostmark
from tests.support.link_ids import without_link_id

pytestmark = pytest.mark.django_db

# The smallest valid GIF: inline images are real images.
GIF = base64.b64decode("R0lGODlhAQABAAAAACwAAAAAAQABAAACAkQBADs=")


def posted(fake: FakePostmark, message: EmailMessage) -> dict[str, Any]:
    assert message.send() == 1
    assert len(fake.requests) == 1
    request = fake.requests[0]
    assert request.path == "/email"
    assert request.headers["X-Postmark-Server-Token"] == "server-token"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Accept"] == "application/json"
    # The id every message carries is checked and left out (tests/sending/test_link_ids.py).
    return without_link_id(request.body)


def b64(data: bytes | str) -> str:
    return base64.b64encode(data.encode() if isinstance(data, str) else data).decode()


def test_plain_message_maps_from_to_subject_and_text_body(fake_postmark: FakePostmark) -> None:
    body = posted(
        fake_postmark,
        EmailMessage(
            "Hello", "Plain text", "Alice Example <alice@example.com>", ["bob@example.com"]
        ),
    )
    assert body == {
        "From": "Alice Example <alice@example.com>",
        "To": "bob@example.com",
        "Subject": "Hello",
        "TextBody": "Plain text",
    }


def test_from_falls_back_to_default_from_email(fake_postmark: FakePostmark) -> None:
    body = posted(fake_postmark, EmailMessage("s", "b", None, ["bob@example.com"]))
    assert body["From"] == "Sender <sender@example.com>"


def test_to_cc_bcc_with_display_names_are_comma_separated(fake_postmark: FakePostmark) -> None:
    message = EmailMessage(
        "s",
        "b",
        "from@example.com",
        to=["Bob <bob@example.com>", "carol@example.com"],
        cc=["Dan Cc <dan@example.com>"],
        bcc=["eve@example.com", "Frank <frank@example.com>"],
    )
    body = posted(fake_postmark, message)
    assert body["To"] == "Bob <bob@example.com>, carol@example.com"
    assert body["Cc"] == "Dan Cc <dan@example.com>"
    assert body["Bcc"] == "eve@example.com, Frank <frank@example.com>"


def test_display_name_with_a_comma_is_quoted(fake_postmark: FakePostmark) -> None:
    message = EmailMessage("s", "b", '"Doe, Jane" <jane@example.com>', ["bob@example.com"])
    assert posted(fake_postmark, message)["From"] == '"Doe, Jane" <jane@example.com>'


def test_reply_to_attribute_becomes_reply_to(fake_postmark: FakePostmark) -> None:
    message = EmailMessage(
        "s", "b", "from@example.com", ["bob@example.com"], reply_to=["Help <help@example.com>"]
    )
    assert posted(fake_postmark, message)["ReplyTo"] == "Help <help@example.com>"


def test_reply_to_header_wins_over_attribute_as_in_django(fake_postmark: FakePostmark) -> None:
    message = EmailMessage(
        "s",
        "b",
        "from@example.com",
        ["bob@example.com"],
        reply_to=["ignored@example.com"],
        headers={"Reply-To": "One <one@example.com>, two@example.com"},
    )
    body = posted(fake_postmark, message)
    assert body["ReplyTo"] == "One <one@example.com>, two@example.com"
    assert "Headers" not in body


def test_from_header_wins_over_from_email(fake_postmark: FakePostmark) -> None:
    message = EmailMessage(
        "s",
        "b",
        "envelope@example.com",
        ["bob@example.com"],
        headers={"From": "Shown <s@example.com>"},
    )
    body = posted(fake_postmark, message)
    assert body["From"] == "Shown <s@example.com>"
    assert "Headers" not in body


def test_html_content_subtype_sends_html_body(fake_postmark: FakePostmark) -> None:
    message = EmailMessage("s", "<p>Hi</p>", "from@example.com", ["bob@example.com"])
    message.content_subtype = "html"
    body = posted(fake_postmark, message)
    assert body["HtmlBody"] == "<p>Hi</p>"
    assert "TextBody" not in body


def test_text_with_one_html_alternative_sends_both(fake_postmark: FakePostmark) -> None:
    message = EmailMultiAlternatives("s", "Text", "from@example.com", ["bob@example.com"])
    message.attach_alternative("<b>Html</b>", "text/html")
    body = posted(fake_postmark, message)
    assert (body["TextBody"], body["HtmlBody"]) == ("Text", "<b>Html</b>")


def test_html_only_alternative_without_text_body(fake_postmark: FakePostmark) -> None:
    message = EmailMultiAlternatives("s", "", "from@example.com", ["bob@example.com"])
    message.attach_alternative("<b>Html</b>", "text/html")
    body = posted(fake_postmark, message)
    assert body["HtmlBody"] == "<b>Html</b>"
    assert "TextBody" not in body


def test_extra_headers_become_name_value_pairs(fake_postmark: FakePostmark) -> None:
    message = EmailMessage(
        "s",
        "b",
        "from@example.com",
        ["bob@example.com"],
        headers={"X-Campaign": "spring", "List-Unsubscribe": "<mailto:u@example.com>"},
    )
    assert posted(fake_postmark, message)["Headers"] == [
        {"Name": "X-Campaign", "Value": "spring"},
        {"Name": "List-Unsubscribe", "Value": "<mailto:u@example.com>"},
    ]


def test_attachments_bytes_and_str_are_base64_with_content_type(
    fake_postmark: FakePostmark,
) -> None:
    message = EmailMessage("s", "b", "from@example.com", ["bob@example.com"])
    message.attach("data.bin", b"\x00\x01\xff", "application/octet-stream")
    message.attach("notes.txt", "héllo", "text/plain")
    message.attach("guessed.csv", b"a,b\n", None)
    attachments = posted(fake_postmark, message)["Attachments"]
    assert attachments == [
        {
            "Name": "data.bin",
            "Content": b64(b"\x00\x01\xff"),
            "ContentType": "application/octet-stream",
        },
        {"Name": "notes.txt", "Content": b64("héllo"), "ContentType": "text/plain"},
        {"Name": "guessed.csv", "Content": b64(b"a,b\n"), "ContentType": "text/csv"},
    ]


def test_mimebase_attachment_keeps_filename_and_type(fake_postmark: FakePostmark) -> None:
    part = MIMEBase("application", "pdf")
    part.set_payload(b"%PDF-1.4 fake")
    part.add_header("Content-Disposition", "attachment", filename="report.pdf")
    from email import encoders

    encoders.encode_base64(part)
    message = EmailMessage("s", "b", "from@example.com", ["bob@example.com"])
    message.attach(part)
    assert posted(fake_postmark, message)["Attachments"] == [
        {"Name": "report.pdf", "Content": b64(b"%PDF-1.4 fake"), "ContentType": "application/pdf"}
    ]


def test_attach_file_reads_the_file(fake_postmark: FakePostmark, tmp_path: Path) -> None:
    path = tmp_path / "invoice.pdf"
    path.write_bytes(b"%PDF invoice")
    message = EmailMessage("s", "b", "from@example.com", ["bob@example.com"])
    message.attach_file(str(path))
    assert posted(fake_postmark, message)["Attachments"] == [
        {"Name": "invoice.pdf", "Content": b64(b"%PDF invoice"), "ContentType": "application/pdf"}
    ]


def test_inline_image_content_id_becomes_cid(fake_postmark: FakePostmark) -> None:
    image = MIMEImage(GIF, "gif")
    image.add_header("Content-ID", "<logo.gif>")
    image.add_header("Content-Disposition", "inline", filename="logo.gif")
    message = EmailMultiAlternatives("s", "text", "from@example.com", ["bob@example.com"])
    message.attach_alternative('<img src="cid:logo.gif">', "text/html")
    message.attach(image)
    assert posted(fake_postmark, message)["Attachments"] == [
        {
            "Name": "logo.gif",
            "Content": b64(GIF),
            "ContentType": "image/gif",
            "ContentID": "cid:logo.gif",
        }
    ]


def test_unicode_subject_names_and_bodies_arrive_intact(fake_postmark: FakePostmark) -> None:
    message = EmailMessage(
        "Grüße aus Zürich ✉",
        "Ça va? 日本語",
        "Jürgen Müller <juergen@example.com>",
        ["Zoë Ångström <zoe@example.com>"],
    )
    body = posted(fake_postmark, message)
    assert body["Subject"] == "Grüße aus Zürich ✉"
    assert body["TextBody"] == "Ça va? 日本語"
    assert body["From"] == "Jürgen Müller <juergen@example.com>"
    assert body["To"] == "Zoë Ångström <zoe@example.com>"


def test_idn_domains_are_sent_as_punycode(fake_postmark: FakePostmark) -> None:
    message = EmailMessage("s", "b", "info@bücher.example", ["Max <max@münchen.example>"])
    body = posted(fake_postmark, message)
    assert body["From"] == "info@xn--bcher-kva.example"
    assert body["To"] == "Max <max@xn--mnchen-3ya.example>"


def test_send_mail_shortcut_goes_through_postmark(fake_postmark: FakePostmark) -> None:
    sent = mail.send_mail(
        "Subject", "Body", "from@example.com", ["to@example.com"], html_message="<p>Body</p>"
    )
    assert sent == 1
    assert [without_link_id(sent) for sent in fake_postmark.sent_messages] == [
        {
            "From": "from@example.com",
            "To": "to@example.com",
            "Subject": "Subject",
            "TextBody": "Body",
            "HtmlBody": "<p>Body</p>",
        }
    ]
