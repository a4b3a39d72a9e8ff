"""The sandbox's inbound form in a real browser: what a person fills in reaches the site as
Postmark's inbound JSON, and a page of another origin that posts the same form (even with the
form's token) is refused."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from postmark.sandbox import Sandbox
from tests.support.sandbox_api import Receiver, receiving

pytestmark = [pytest.mark.browser]


@pytest.fixture
def sandbox() -> Iterator[tuple[Sandbox, Receiver]]:
    with receiving() as receiver:
        url = receiver.url.replace("http://", "http://postmark:pw@").replace("bounce", "inbound")
        with Sandbox(inbound_url=url, webhook_delay=0) as running:
            yield running, receiver


@pytest.fixture
def other_origin() -> Iterator[dict[str, str]]:
    """A page on another port of the same machine (another origin): ``page["html"]`` is what
    it serves."""
    served = {"html": ""}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            data = served["html"].encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}).start()
    served["url"] = f"http://127.0.0.1:{server.server_port}/"
    try:
        yield served
    finally:
        server.shutdown()
        server.server_close()


def test_a_person_delivers_mail_with_the_form(
    sandbox: tuple[Sandbox, Receiver], browser_page: Any
) -> None:
    running, receiver = sandbox
    page = browser_page
    page.goto(f"{running.url}/")
    page.click("text=Deliver inbound mail")
    page.fill("#f-from", "Ann Example <ann@example.com>")
    page.fill("#f-to", "reply+42@in.example.com")
    page.fill("#f-subject", "Re: <b>your</b> order")
    page.fill("#f-text", "Got it, thanks!\n\nOn Mon, 5 Jan 2026, Shop wrote:\n> Shipped.")
    page.set_input_files(
        "#f-attachment",
        files=[{"name": "notes.txt", "mimeType": "text/plain", "buffer": b"hello"}],
    )
    page.click("button[type=submit]")
    page.wait_for_url("**/#webhooks")
    running.wait_for_webhooks()
    [(authorization, body)] = receiver.received
    assert authorization is not None and authorization.startswith("Basic ")
    assert (body["Subject"], body["MailboxHash"]) == ("Re: <b>your</b> order", "42")
    assert body["StrippedTextReply"] == "Got it, thanks!"
    assert [a["Name"] for a in body["Attachments"]] == ["notes.txt"] and body["RawEmail"]
    page.reload()
    assert page.locator("#webhooks").inner_text() == "Webhook deliveries (1)"
    assert "reply+42@in.example.com" in page.locator("table").last.inner_text()


def test_another_origins_page_cannot_post_the_form(
    sandbox: tuple[Sandbox, Receiver], other_origin: dict[str, str], browser_page: Any
) -> None:
    running, receiver = sandbox
    # Even knowing the token (it cannot read it), the browser says where the post comes from.
    other_origin["html"] = f"""<!doctype html><form method="post" enctype="multipart/form-data"
        action="{running.url}/sandbox/inbound">
        <input name="token" value="{running.inbound.form_token}">
        <input name="from" value="evil@example.com"><input name="to" value="desk@example.com">
        </form><script>document.forms[0].submit()</script>"""
    page = browser_page
    page.goto(other_origin["url"])
    page.wait_for_url(f"{running.url}/sandbox/inbound")
    assert "Refused" in page.content()
    assert running.webhook_deliveries == [] and receiver.received == []
