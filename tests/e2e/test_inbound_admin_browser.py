"""The inbound admin in headless Chromium, in the demo's real processes: hostile mail posted to
the site's inbound webhook as Postmark posts it, then its list and its page looked at. No script
of the mail runs, nothing it names is fetched, its HTML reads as source, its attachment comes as
a download under its safe name, and reroute runs from the list. The pages are photographed into
``build/screenshots/`` (``$POSTMARK_SCREENSHOT_DIR``): ``admin-inbound-list``,
``admin-inbound-message``, ``admin-inbound-failed`` and ``admin-overview-inbound``."""

from __future__ import annotations

import base64
import sqlite3
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.e2e.test_operations_browser import fits, log_in, run_action, shoot
from tests.support import webhook_payloads as payloads
from tests.support.example_demo import running_demo

# checkout: the example project is not in the wheel (make test-wheel leaves this out).
pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.checkout, pytest.mark.example]

PASSWORD = "inbound-" + uuid.uuid4().hex
EVIL = "evil.invalid"
HOSTILE_HTML = (
    "<html><head><base href='http://evil.invalid/'><script>window.pwned = 1; alert(1)</script>"
    '<link rel="stylesheet" href="http://evil.invalid/style.css"></head><body>'
    '<p>Your invoice is attached.</p><img src="http://evil.invalid/pixel.gif" '
    'onerror="window.pwned = 2; alert(2)"><a href="javascript:window.pwned = 3">Pay now</a>'
    "</pre><iframe srcdoc='<script>parent.pwned = 4</script>'></iframe></body></html>"
)
PDF = b"%PDF-1.4\n% not really a PDF\n"


def attachment(name: str, content: bytes, content_type: str) -> dict[str, Any]:
    return {
        "Name": name,
        "Content": base64.b64encode(content).decode(),
        "ContentType": content_type,
        "ContentLength": len(content),
    }


def mail(subject: str, sender: str, **changes: Any) -> dict[str, Any]:
    return payloads.inbound(
        MessageID=str(uuid.uuid4()),
        Subject=subject,
        From=sender,
        FromName="",
        FromFull={"Email": sender, "Name": "", "MailboxHash": ""},
        **changes,
    )


def deliver(site: str, payload: dict[str, Any]) -> None:
    answer = requests.post(
        site + "/postmark/inbound/", json=payload, auth=("postmark", PASSWORD), timeout=10
    )
    assert answer.status_code == 200, answer.text


def test_hostile_mail_in_the_inbound_admin_is_text_and_its_pages_are_photographed(
    browser_page: Any, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    page = browser_page
    page.set_viewport_size({"width": 1280, "height": 900})
    fetched: list[str] = []
    dialogs: list[str] = []
    page.on("request", lambda request: fetched.append(request.url))
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    hostile = mail(
        "Invoice <script>alert('subject')</script>",
        "billing@vendor.example",
        HtmlBody=HOSTILE_HTML,
        TextBody="Your invoice is attached.\n\n-- \nVendor billing",
        Attachments=[
            attachment("invoice.pdf", PDF, "application/pdf"),
            attachment(
                "../../<img src=x onerror=alert(5)>.html", b"<script>1</script>", "text/html"
            ),
        ],
    )
    with running_demo(tmp_path, POSTMARK_API_PASSWORD=PASSWORD) as demo:
        deliver(demo.site, mail("Question about my order", "ann@customer.example"))
        deliver(demo.site, mail("Re: your ticket #1234", "bob@customer.example", Attachments=[]))
        deliver(demo.site, hostile)
        # The example's catch-all drops mail that is not a reply to a post. One message is made
        # failed as a worker records a failing mailbox, for the page of a failure to be looked
        # at, and one unrouted as mail that came before any route took it, for Reroute.
        with sqlite3.connect(demo.database) as db:
            db.execute(
                "UPDATE postmark_inboundmessage SET status = 'unrouted', mailbox = '', note = '' "
                "WHERE subject LIKE 'Question%'"
            )
            db.execute(
                "UPDATE postmark_inboundmessage SET status = 'failed', mailbox = 'support', "
                "attempts = 5, error = ?, traceback = ? WHERE subject LIKE 'Re:%'",
                (
                    "ConnectionError: the ticket system did not answer",
                    'Traceback (most recent call last):\n  File "tickets.py", line 12, in '
                    "open_ticket\nConnectionError: the ticket system did not answer\n",
                ),
            )
        log_in(page, demo)
        page.goto(demo.site + "/admin/postmark/inboundmessage/")
        rows = page.locator("#result_list tbody tr")
        expect(rows).to_have_count(3)
        expect(page.locator("#result_list")).to_contain_text(
            "Failed (support): ConnectionError: the ticket system"
        )
        shoot(page, "admin-inbound-list")
        assert fits(page), "the inbound list is wider than a 1280-pixel screen"

        page.locator("#result_list tr", has_text="Invoice").locator("th a").click()
        expect(page.locator("h1")).to_have_text("View inbound message")
        expect(page.locator("#inbound-html")).to_have_text(HOSTILE_HTML)
        expect(page.locator("#inbound-attachments")).to_contain_text("invoice.pdf")
        page.wait_for_load_state("networkidle")
        shoot(page, "admin-inbound-message")
        assert page.evaluate("() => window.pwned") is None and dialogs == []
        assert not [url for url in fetched if EVIL in url]
        assert page.locator("#inbound-message iframe, #inbound-message img").count() == 0

        with page.expect_download() as download:
            page.locator("#inbound-attachments a", has_text="download").nth(1).click()
        assert download.value.suggested_filename == "_img src=x onerror=alert(5)_.html"
        assert page.evaluate("() => window.pwned") is None and dialogs == []

        page.goto(demo.site + "/admin/postmark/inboundmessage/?status__exact=failed")
        page.locator("#result_list tbody th a").first.click()
        expect(page.locator(".field-traceback_block")).to_contain_text("ConnectionError")
        shoot(page, "admin-inbound-failed")

        run_action(page, demo.site + "/admin/postmark/inboundmessage/", "Question", "reroute")
        expect(page.locator(".messagelist")).to_contain_text(
            "1 inbound message scheduled for rerouting."
        )

        page.goto(demo.site + "/admin/postmark/overview/")
        expect(page.locator("#inbound-failed")).to_contain_text("1 inbound message failed")
        expect(page.locator("#inbound-mail tfoot td")).to_have_text("3")
        shoot(page, "admin-overview-inbound")
