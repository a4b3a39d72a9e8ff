"""The sandbox delivers inbound mail to the app as Postmark does, over real HTTP both ways: from
its page's form and from ``POST /sandbox/inbound`` (an ``.eml``) to the app's inbound view on a
live server, whose receivers get an ``InboundEvent`` with RawEmail, attachments, MailboxHash and
StrippedTextReply. The form takes posts from the sandbox's own page only."""

from __future__ import annotations

import re
import socket
from typing import Any

import pytest
import requests

from postmark.events.inbound import InboundEvent
from postmark.models import WebhookEvent
from postmark.sandbox import Sandbox, inbound_payload
from postmark.sandbox.inbound_api import READ_LIMIT
from tests.support.inbound_mail import INVOICE_EML

pytestmark = pytest.mark.django_db(transaction=True)


def form_token(sandbox: Sandbox) -> str:
    page = requests.get(f"{sandbox.url}/sandbox/inbound", timeout=5)
    found = re.search(r'name="token" value="([^"]+)"', page.text)
    assert page.status_code == 200 and found
    return found.group(1)


def post_form(
    sandbox: Sandbox,
    fields: dict[str, str],
    files: dict[str, Any] | list[tuple[str, Any]] | None = None,
    **headers: str,
) -> requests.Response:
    return requests.post(
        f"{sandbox.url}/sandbox/inbound",
        data=fields,
        files=files or {"attachment": ("", b"", "application/octet-stream")},
        headers={"Origin": sandbox.url, "Sec-Fetch-Site": "same-origin", **headers},
        allow_redirects=False,
        timeout=10,
    )


def test_the_form_delivers_written_mail_to_the_apps_inbound_view(
    inbound: Sandbox, received: list[InboundEvent]
) -> None:
    fields = {
        "token": form_token(inbound),
        "from": "Ann Example <ann@example.com>",
        "to": "reply+ticket-42@in.example.com",
        "cc": "Team <team@example.com>",
        "subject": "Re: your ticket",
        "text": "Works now, thanks!\n\nOn Mon, 5 Jan 2026, Support wrote:\n> Try again?",
        "html": "<p>Works now, thanks!</p>",
    }
    files = [
        ("attachment", ("notes.txt", b"first file", "text/plain")),
        ("attachment", ("photo.png", b"\x89PNG\r\n\x1a\n", "image/png")),
    ]
    answer = post_form(inbound, fields, files)
    assert (answer.status_code, answer.headers["Location"]) == (303, "/#webhooks")
    [delivery] = inbound.wait_for_webhooks()
    assert (delivery.record_type, delivery.state, delivery.last_status) == (
        "Inbound",
        "delivered",
        200,
    )
    [event] = received
    assert (event.from_email, event.from_name) == ("ann@example.com", "Ann Example")
    assert (event.mailbox_hash, event.original_recipient) == (
        "ticket-42",
        "reply+ticket-42@in.example.com",
    )
    assert [a.email for a in event.cc_full] == ["team@example.com"]
    assert event.stripped_text_reply == "Works now, thanks!"
    assert event.html_body == "<p>Works now, thanks!</p>\n"
    assert [(a.name, a.content) for a in event.attachments] == [
        ("notes.txt", b"first file"),
        ("photo.png", b"\x89PNG\r\n\x1a\n"),
    ]
    assert "Subject: Re: your ticket" in event.raw_email
    message = event.message  # built from RawEmail
    assert message.subject == "Re: your ticket" and len(message.attachments) == 2
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.PROCESSED


def test_an_uploaded_eml_is_delivered_as_it_is_to_the_address_given(
    inbound: Sandbox, received: list[InboundEvent]
) -> None:
    fields = {"token": form_token(inbound), "to": "desk+77@in.example.com"}
    answer = post_form(inbound, fields, {"eml": ("invoice.eml", INVOICE_EML, "message/rfc822")})
    assert answer.status_code == 303
    inbound.wait_for_webhooks()
    [event] = received
    assert event.raw_email == INVOICE_EML.decode()  # the file's own bytes, not a parse of them
    assert (event.subject, event.from_email) == ("Invoice", "cy@example.com")
    # Delivered to an address on no header of the file: a Bcc, as Postmark shows it.
    assert (event.original_recipient, event.mailbox_hash) == ("desk+77@in.example.com", "77")
    assert [a.email for a in event.bcc_full] == ["desk+77@in.example.com"]
    assert event.stripped_text_reply == "See attached."
    [pdf] = event.attachments
    assert (pdf.name, pdf.content, pdf.content_type) == ("in.pdf", b"%PDF-1.4", "application/pdf")


def test_an_eml_posted_as_message_rfc822_is_delivered_and_its_delivery_followed(
    inbound: Sandbox, received: list[InboundEvent]
) -> None:
    answer = requests.post(
        f"{inbound.url}/sandbox/inbound",
        params={"recipient": "support+7@in.example.com"},
        data=INVOICE_EML,
        headers={"Content-Type": "message/rfc822"},
        timeout=10,
    )
    assert answer.status_code == 200
    scheduled = answer.json()
    assert scheduled["State"] == "pending" and scheduled["Url"].endswith("/postmark/inbound/")
    inbound.wait_for_webhooks()
    state = requests.get(f"{inbound.url}/sandbox/inbound/{scheduled['ID']}", timeout=5).json()
    assert (state["State"], [a["Status"] for a in state["Attempts"]]) == ("delivered", [200])
    [event] = received
    assert (event.message_id, event.mailbox_hash) == (scheduled["MessageID"], "7")
    missing = requests.get(f"{inbound.url}/sandbox/inbound/999", timeout=5)
    assert missing.status_code == 404


def test_the_inbound_settings_are_postmarks_server_api(
    inbound: Sandbox, received: list[InboundEvent]
) -> None:
    api = {"X-Postmark-Server-Token": "any-token"}
    server = requests.get(f"{inbound.url}/server", headers=api, timeout=5).json()
    assert server["RawEmailEnabled"] is True and server["InboundHookUrl"] == inbound.inbound.url
    assert server["InboundAddress"] == f"{server['InboundHash']}@inbound.postmarkapp.com"
    edited = requests.put(
        f"{inbound.url}/server", json={"RawEmailEnabled": False}, headers=api, timeout=5
    )
    assert edited.json()["RawEmailEnabled"] is False
    inbound.deliver_inbound(INVOICE_EML)
    inbound.wait_for_webhooks()
    [event] = received
    assert event.raw_email == "" and event.subject == "Invoice"
    requests.put(f"{inbound.url}/server", json={"InboundHookUrl": ""}, headers=api, timeout=5)
    refused = requests.post(
        f"{inbound.url}/sandbox/inbound",
        data=INVOICE_EML,
        headers={"Content-Type": "message/rfc822"},
        timeout=5,
    )
    assert refused.status_code == 422 and "--inbound-url" in refused.json()["Message"]
    bad = requests.put(
        f"{inbound.url}/server", json={"InboundHookUrl": "ftp://x"}, headers=api, timeout=5
    )
    assert bad.status_code == 422


def test_the_site_refusing_the_credentials_is_shown_and_retried(
    inbound: Sandbox, received: list[InboundEvent], settings: Any
) -> None:
    assert inbound.inbound.url is not None
    inbound.inbound.url = inbound.inbound.url.replace(settings.POSTMARK_API_PASSWORD, "wrong")
    delivery = inbound.deliver_inbound(INVOICE_EML)
    inbound.wait_for_webhooks()
    assert delivery.state == "failed" and {a.status for a in delivery.attempts} == {401}
    assert received == [] and not WebhookEvent.objects.exists()


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://evil.example"},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Origin": "", "Referer": "http://evil.example/page"},
    ],
    ids=["other-origin", "opaque-origin", "cross-site", "other-referer"],
)
def test_a_form_post_from_another_page_is_refused(
    inbound: Sandbox, received: list[InboundEvent], headers: dict[str, str]
) -> None:
    fields = {"token": form_token(inbound), "from": "a@example.com", "to": "b@example.com"}
    request_headers = {"Origin": inbound.url, "Sec-Fetch-Site": "same-origin", **headers}
    if headers.get("Origin") == "":
        del request_headers["Origin"]
    answer = requests.post(
        f"{inbound.url}/sandbox/inbound",
        data=fields,
        files={"attachment": ("", b"")},
        headers=request_headers,
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 403
    assert inbound.webhook_deliveries == []


@pytest.mark.parametrize("token", ["", "guessed"])
def test_a_form_post_without_the_pages_token_is_refused(inbound: Sandbox, token: str) -> None:
    fields = {"token": token, "from": "a@example.com", "to": "b@example.com"}
    assert post_form(inbound, fields).status_code == 403
    assert inbound.webhook_deliveries == []


def test_a_post_of_another_kind_is_refused(inbound: Sandbox) -> None:
    # A cross-origin page can post text/plain without asking first; it is not taken.
    answer = requests.post(
        f"{inbound.url}/sandbox/inbound",
        data=INVOICE_EML,
        headers={"Content-Type": "text/plain"},
        timeout=5,
    )
    assert answer.status_code == 415 and inbound.webhook_deliveries == []


def test_the_form_page_escapes_what_it_shows_and_cannot_be_framed(inbound: Sandbox) -> None:
    fields = {
        "token": form_token(inbound),
        "from": '"><script>alert(1)</script>',
        "to": "",
        "subject": "</textarea><img src=x onerror=alert(2)>",
        "text": "</textarea><script>alert(3)</script>",
    }
    answer = post_form(inbound, fields)
    assert answer.status_code == 400
    page = answer.text
    assert "<script>" not in page and "<img src=x" not in page
    assert "&lt;/textarea&gt;&lt;script&gt;alert(3)&lt;/script&gt;" in page
    assert 'value="&quot;&gt;&lt;script&gt;' in page
    assert "From and To are needed" in page
    policy = answer.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in policy and "default-src 'none'" in policy
    assert answer.headers["X-Frame-Options"] == "DENY"
    assert answer.headers["Cache-Control"] == "no-store"


def test_mail_past_postmarks_limit_is_refused_on_the_form(
    inbound: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(inbound_payload, "MAX_INBOUND_ATTACHMENT_BYTES", 1000)
    fields = {"token": form_token(inbound), "from": "a@example.com", "to": "b@example.com"}
    answer = post_form(inbound, fields, {"attachment": ("big.bin", b"x" * 2000)})
    assert answer.status_code == 413 and "Attachments over" in answer.text
    assert inbound.webhook_deliveries == []


def test_a_body_past_the_read_limit_is_refused_unread(inbound: Sandbox) -> None:
    host, port = inbound.httpd.server_address[:2]
    with socket.create_connection((str(host), int(port)), timeout=10) as connection:
        connection.sendall(
            f"POST /sandbox/inbound HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Content-Type: message/rfc822\r\nContent-Length: {READ_LIMIT + 1}\r\n\r\n".encode()
            + b"From: a@example.com\r\n\r\nbody"
        )
        connection.shutdown(socket.SHUT_WR)
        answer = connection.recv(4096)
    assert answer.startswith(b"HTTP/1.1 413")
    assert inbound.webhook_deliveries == []


def test_the_activity_page_shows_the_inbound_url_and_links_the_form(inbound: Sandbox) -> None:
    page = requests.get(f"{inbound.url}/", timeout=5).text
    assert 'href="/sandbox/inbound"' in page
    assert "/postmark/inbound/ (basic auth as" in page
    assert inbound.inbound.url is not None and inbound.inbound.url.split("@")[0] not in page


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"from": "a@example.com", "to": "nobody"}, "To: not "),
        ({"from": "nobody", "to": "desk@example.com"}, "From: not "),
        ({"from": "a@example.com", "to": ""}, "From and To are needed"),
    ],
)
def test_what_is_not_mail_is_answered_on_the_form(
    inbound: Sandbox, fields: dict[str, str], problem: str
) -> None:
    answer = post_form(inbound, {"token": form_token(inbound), **fields})
    assert answer.status_code == 400 and problem in answer.text
    assert inbound.webhook_deliveries == []
