"""Replying from the sandbox: each message it sent has a "Reply" link to the inbound form, filled
in as its recipient's reply (From the recipient, To the message's Reply-To, "Re:" its subject,
In-Reply-To its Message-ID, its text quoted), which delivers to the app as Postmark would. What
the message said is shown escaped; a header given on the form stays one header."""

from __future__ import annotations

import html
import json
import re
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from postmark.events.inbound import InboundEvent
from postmark.sandbox import Sandbox
from postmark.sandbox.inbound_page import reply_values
from postmark.sandbox.state import SentMessage, now
from tests.sandbox.test_inbound_delivery import form_token, post_form

HEADERS = {"Content-Type": "application/json", "X-Postmark-Server-Token": "server-token"}
HOSTILE = '</textarea><script>alert(1)</script>"><img src=x onerror=alert(2)>'


def send(sandbox: Sandbox, **fields: Any) -> str:
    """A message sent through the sandbox's API, as the app sends one; its MessageID."""
    body = {
        "From": "Blog <sender@example.com>",
        "To": "Reader <reader@example.com>",
        "Subject": "New post: Hello",
        "TextBody": "Read it on the site.\n\nReply to this email to comment.",
        **fields,
    }
    answer = requests.post(sandbox.url + "/email", data=json.dumps(body), headers=HEADERS)
    assert answer.status_code == 200, answer.text
    message_id: str = answer.json()["MessageID"]
    return message_id


def reply_link(sandbox: Sandbox, message_id: str) -> str:
    page = requests.get(sandbox.url + "/", timeout=5).text
    row = next(r for r in re.findall(r"<tr>.*?</tr>", page, re.S) if message_id in r)
    link = re.search(r'<a href="([^"]+)" class="reply">Reply</a>', row)
    assert link is not None, row
    return html.unescape(link.group(1))


def form_values(page: str) -> dict[str, str]:
    """The values the form shows, as a browser reads them (unescaped)."""
    values = {
        name: html.unescape(value)
        for name, value in re.findall(
            r'<input type="text" id="f-\w+" name="(\w+)" value="([^"]*)"', page
        )
    }
    for name, value in re.findall(
        r'<textarea id="f-\w+" name="(\w+)"[^>]*>\n(.*?)</textarea>', page, re.S
    ):
        values[name] = html.unescape(value)
    return values


@pytest.mark.django_db
def test_a_sent_messages_reply_link_fills_in_the_form_as_its_recipients_reply(
    postmark_sandbox: Sandbox,
) -> None:
    reply_to = "reply+abc234@inbound.example.com"
    message_id = send(postmark_sandbox, ReplyTo=f"Comments <{reply_to}>")

    link = reply_link(postmark_sandbox, message_id)
    assert link == f"/sandbox/inbound?reply={message_id}"
    page = requests.get(postmark_sandbox.url + link, timeout=5)

    assert page.status_code == 200 and "A reply to \u201cNew post: Hello\u201d" in page.text
    values = form_values(page.text)
    assert (values["from"], values["to"]) == ("reader@example.com", reply_to)
    assert values["subject"] == "Re: New post: Hello"
    assert values["in_reply_to"] == f"<{message_id}@sandbox.postmark.local>"
    first, blank, attribution, *quoted = values["text"].split("\n")[:6]
    assert first == blank == "" and attribution.startswith("On ")
    assert attribution.endswith(", sender@example.com wrote:")
    assert quoted == ["> Read it on the site.", ">", "> Reply to this email to comment."]
    assert 'id="f-text" name="text" autofocus' in page.text


@pytest.mark.django_db
def test_a_message_without_reply_to_is_answered_to_its_sender_and_re_is_not_doubled(
    postmark_sandbox: Sandbox,
) -> None:
    message_id = send(postmark_sandbox, Subject="RE: your order", TextBody="", HtmlBody="<p>x</p>")
    page = requests.get(postmark_sandbox.url + reply_link(postmark_sandbox, message_id)).text
    values = form_values(page)
    assert (values["to"], values["subject"]) == ("sender@example.com", "RE: your order")
    assert values["text"] == ""  # nothing to quote: the message had no text part


@pytest.mark.django_db
def test_a_message_sent_with_the_test_token_has_no_reply_link(postmark_sandbox: Sandbox) -> None:
    body = {"From": "sender@example.com", "To": "reader@example.com", "TextBody": "t"}
    headers = dict(HEADERS, **{"X-Postmark-Server-Token": "POSTMARK_API_TEST"})
    requests.post(postmark_sandbox.url + "/email", data=json.dumps(body), headers=headers)
    page = requests.get(postmark_sandbox.url + "/", timeout=5).text
    assert "reader@example.com" in page and 'class="reply"' not in page


@pytest.mark.django_db
def test_the_reply_form_shows_what_the_message_said_escaped(postmark_sandbox: Sandbox) -> None:
    message_id = send(
        postmark_sandbox,
        Subject=HOSTILE,
        TextBody=HOSTILE,
        ReplyTo=f'"{HOSTILE.replace(chr(34), "")}" <reply@example.com>',
    )
    answer = requests.get(postmark_sandbox.url + reply_link(postmark_sandbox, message_id))
    page = answer.text
    assert "<script>" not in page and "<img src=x" not in page
    assert page.count("</textarea>") == 2  # the form's own text areas, none from the message
    values = form_values(page)
    assert values["subject"] == f"Re: {HOSTILE}" and f"> {HOSTILE}" in values["text"]
    assert values["to"] == "reply@example.com"
    assert "default-src 'none'" in answer.headers["Content-Security-Policy"]


@pytest.mark.django_db
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])  # nothing is sent
@given(st.text(min_size=1, max_size=40))
def test_a_reply_to_a_message_never_sent_is_a_404_on_the_empty_form(
    postmark_sandbox: Sandbox, message_id: str
) -> None:
    answer = requests.get(
        postmark_sandbox.url + "/sandbox/inbound", params={"reply": message_id}, timeout=5
    )
    assert answer.status_code == 404
    shown = re.search(r'<p class="notice bad" role="alert">([^<]*)</p>', answer.text)
    assert shown is not None, answer.text  # escaped: no "<" of the id reaches the page
    said = f"No message {message_id!r} was sent: nothing to reply to."
    assert html.unescape(shown.group(1)) == said
    assert form_values(answer.text)["to"] == ""


def test_reply_values_quote_every_line_of_the_text() -> None:
    message = SentMessage(
        sender="sender@example.com",
        to=["reader@example.com"],
        cc=[],
        bcc=[],
        subject="Hello",
        tag="",
        metadata={},
        headers=[],
        text_body="one\r\n\r\ntwo  \nthree",
        html_body="",
        attachments=[],
        stream="outbound",
        payload={"ReplyTo": ["not", "text"]},
        message_id="m-1",
        submitted_at=now(),
        endpoint="/email",
    )
    values = reply_values(message)
    assert values["to"] == "sender@example.com"  # a ReplyTo that is no text is no address
    message.payload["ReplyTo"] = '"Ann <reply@example.com>'  # the quote never closes
    assert reply_values(message)["to"] == "sender@example.com"  # nor is one garbled
    assert values["text"].endswith("wrote:\n> one\n>\n> two\n> three\n")


# --- Delivered: the app gets the reply as Postmark posts it ----------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_reply_reaches_the_app_threaded_with_only_the_new_text_stripped(
    inbound: Sandbox, received: list[InboundEvent]
) -> None:
    reply_to = "reply+abc234@inbound.example.com"
    message_id = send(inbound, ReplyTo=reply_to)
    values = form_values(requests.get(inbound.url + reply_link(inbound, message_id)).text)
    values["text"] = "Great post, thanks!" + values["text"]

    answer = post_form(inbound, {"token": form_token(inbound), **values})

    assert answer.status_code == 303
    inbound.wait_for_webhooks()
    [event] = received
    assert (event.from_email, event.original_recipient) == ("reader@example.com", reply_to)
    assert (event.mailbox_hash, event.subject) == ("abc234", "Re: New post: Hello")
    assert event.stripped_text_reply == "Great post, thanks!"
    headers = dict(event.headers)
    original = f"<{message_id}@sandbox.postmark.local>"
    assert headers["In-Reply-To"] == headers["References"] == original


@pytest.mark.django_db(transaction=True)
def test_a_line_break_in_in_reply_to_never_makes_another_header(
    inbound: Sandbox, received: list[InboundEvent]
) -> None:
    fields = {
        "token": form_token(inbound),
        "from": "ann@example.com",
        "to": "desk@inbound.example.com",
        "in_reply_to": "<a@example.com>\r\nBcc: victim@example.net",
        "text": "hi",
    }
    assert post_form(inbound, fields).status_code == 303
    inbound.wait_for_webhooks()
    [event] = received
    assert event.bcc_full == [] and "victim@example.net" not in event.bcc
    headers = dict(event.headers)
    assert headers["In-Reply-To"] == "<a@example.com> Bcc: victim@example.net"
    assert "\nBcc:" not in event.raw_email
