"""End to end, as a newcomer sees it: the demo's real processes, driven in headless Chromium.

Every page is photographed at desktop and phone width into ``build/screenshots/`` (or
``$POSTMARK_SCREENSHOT_DIR``); the paths are printed and ``.ci/run`` lists them. Uses Debian's
/usr/bin/chromium (``.ci/run`` installs it); ``playwright install`` is never needed.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.support.example_demo import BOUNCE_TESTING, SCREENSHOTS, running_demo

# checkout: the example project is not in the wheel (make test-wheel leaves this out).
pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.checkout, pytest.mark.example]

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
DATE_AND_TIME = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")
QUEUE_STATES = {"queued", "sent", "delivered"}


def photograph(
    browser: Any, url: str, name: str, cookies: list[dict[str, Any]], *, ours: bool = True
) -> None:
    """The page at desktop and phone width, whole; the paths are printed for CI's log.
    Our own pages (not Django's admin) must fit a phone's width without sideways scrolling."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for label, size in (("desktop", DESKTOP), ("phone", PHONE)):
        context = browser.new_context(viewport=size)
        context.add_cookies(cookies)
        page = context.new_page()
        page.goto(url)
        page.wait_for_load_state("networkidle")
        path = SCREENSHOTS / f"{name}-{label}.png"
        page.screenshot(path=str(path), full_page=True)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert not ours or width <= size["width"], f"{url} is {width}px wide at {size['width']}"
        context.close()
        print(f"screenshot: {path}")


def test_the_demo_as_a_person_uses_it_every_page_photographed(browser: Any, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    bounced = f"hardbounce@{BOUNCE_TESTING}"
    with running_demo(tmp_path) as demo:
        page = browser.new_page(viewport=DESKTOP)
        page.set_default_timeout(30_000)
        # The site is for staff: a visitor is sent to sign in first, then back to the page.
        page.goto(demo.site + "/")
        assert "/login/" in page.url
        photograph(browser, page.url, "login", [])
        page.fill("#id_username", demo.username)
        page.fill("#id_password", demo.password)
        page.click("#sign-in")
        assert page.url == demo.site + "/"
        expect(page.locator(".signed-in")).to_contain_text(demo.username)
        expect(page.locator("#sent-messages")).to_contain_text("Nothing sent yet")

        # A queued message is listed on the very page the send returns to, before any worker
        # or webhook could be waited for: read at once, not with expect's retries.
        page.fill("#id_to", "ann@example.com")
        page.fill("#id_subject", "Welcome aboard")
        page.click("#send")
        expect(page.locator(".flash")).to_contain_text("Message to ann@example.com: queued.")
        first = page.locator("#sent-messages tbody tr", has_text="Welcome aboard")
        assert first.count() == 1
        assert first.locator(".status").inner_text() in QUEUE_STATES
        assert DATE_AND_TIME.match(first.locator("td.when").inner_text())
        expect(first.locator(".status")).to_have_text("delivered")

        page.click(f"button[value='{bounced}']")
        expect(page.locator(".flash")).to_contain_text(bounced)
        bounce_row = page.locator("#bounces tbody tr", has_text=bounced)
        expect(bounce_row).to_contain_text("HardBounce")
        expect(bounce_row.locator(".badge")).to_have_text("inactive")
        assert DATE_AND_TIME.match(bounce_row.locator("td.when").inner_text())
        sent_row = page.locator("#sent-messages tbody tr", has_text=bounced)
        expect(sent_row.locator(".status")).to_have_text("bounced")
        expect(page.locator("#suppressions tbody tr", has_text=bounced)).to_contain_text(
            "HardBounce"
        )

        # A second send to the address is suppressed before it reaches Postmark.
        page.click(f"button[value='{bounced}']")
        expect(page.locator(".flash")).to_contain_text("suppressed")
        expect(page.locator("#sent-messages .status", has_text="suppressed")).to_have_count(1)
        expect(page.locator("h2", has_text="Messages")).to_contain_text("3")

        # The sandbox saw two messages (the suppressed one never left) and links back.
        page.click("#sandbox-link")
        expect(page.locator("#messages")).to_have_text("Messages (2)")
        expect(page.locator("#bounces")).to_have_text("Bounces (1)")
        expect(page.locator("#suppressions")).to_have_text("Suppressions (1)")
        expect(page.locator("#webhooks")).to_have_text("Webhook deliveries (2)")
        times = page.locator("time").all_inner_texts()
        assert times and all(DATE_AND_TIME.match(text) for text in times), times
        page.click("#site-link")
        assert page.url == demo.site + "/"

        # Each row links to its admin page, where the same sign-in holds.
        page.locator("#sent-messages tbody tr", has_text="Welcome aboard").locator("a").click()
        message_admin = page.url
        assert "/admin/postmark/message/" in message_admin and "/change/" in message_admin
        expect(page.locator("#content")).to_contain_text("Welcome aboard")
        page.goto(demo.site + "/")
        page.locator("#bounces tbody tr", has_text=bounced).locator("a").click()
        assert "/admin/postmark/bounce/" in page.url
        expect(page.locator("#content")).to_contain_text(bounced)
        bounce_admin = page.url

        # Against the sandbox, a send's answer can be lost on purpose: the row says "unknown"
        # until the worker's search settles it (not found: failed, 30 s later), so the
        # photographs show the card and an unknown row.
        page.goto(demo.site + "/")
        card = page.locator("#lost-answer")
        expect(card.locator("h2")).to_have_text("When Postmark's answer never arrives")
        card.locator("button", has_text="Never accepted").click()
        expect(page.locator(".flash")).to_contain_text("next sending call: never accepted.")
        lost = page.locator("#sent-messages tbody tr", has_text="Lost answer: Never accepted")
        expect(lost.locator(".status")).to_have_text("unknown")
        expect(lost.locator(".settlement")).to_have_text("to be searched for")

        cookies = page.context.cookies()
        photograph(browser, demo.site + "/", "site", cookies)
        photograph(browser, demo.sandbox + "/", "sandbox", [])
        for name, url in (
            ("admin", demo.site + "/admin/"),
            ("admin-message", message_admin),
            ("admin-bounce", bounce_admin),
        ):
            photograph(browser, url, name, cookies, ours=False)


def test_comments_by_email_as_a_person_uses_them_every_page_photographed(
    browser: Any, tmp_path: Path
) -> None:
    """Publish a post, reply to its notification from the sandbox's page with its Reply link,
    and see the reply on the site as a comment, processed by the worker."""
    from playwright.sync_api import expect

    with running_demo(tmp_path) as demo:
        page = browser.new_page(viewport=DESKTOP)
        page.set_default_timeout(30_000)
        page.goto(demo.site + "/posts/")
        assert "/login/" in page.url  # staff only, as every page of the example
        page.fill("#id_username", demo.username)
        page.fill("#id_password", demo.password)
        page.click("#sign-in")
        assert page.url == demo.site + "/posts/"
        expect(page.locator("#live")).to_contain_text("No posts yet")

        # The form is filled in: one click publishes and notifies the reader.
        page.click("#publish")
        flash = page.locator(".flash")
        expect(flash).to_contain_text("Notification to reader@example.com: queued.")
        address = re.search(r"reply\+[a-z2-7]+@inbound\.example\.com", flash.inner_text())
        assert address is not None, flash.inner_text()
        expect(page.locator(".post h3")).to_contain_text("Hello from the example blog")

        page.click("#sandbox-link")
        notification = page.locator("#messages ~ .wrap tbody tr", has_text="New post:")
        for _ in range(30):  # the worker sends it within a second or two
            if notification.count():
                break
            page.wait_for_timeout(500)
            page.reload()
        sandbox_page = page.url
        notification.locator("a.reply").click()
        reply_form = page.url
        assert "/sandbox/inbound?reply=" in reply_form
        expect(page.locator("#f-from")).to_have_value("reader@example.com")
        expect(page.locator("#f-to")).to_have_value(address.group())
        expect(page.locator("#f-subject")).to_have_value(
            "Re: New post: Hello from the example blog"
        )
        expect(page.locator("#f-text")).to_be_focused()
        quoted = page.input_value("#f-text")
        assert "wrote:\n> Our first post." in quoted
        page.fill("#f-text", "Count me in, by email!" + quoted)
        page.click("button[type=submit]")
        page.wait_for_url("**/#webhooks")  # listed among the webhooks: posted to the site
        expect(page.locator("#webhooks ~ .wrap tbody tr", has_text="Inbound")).to_have_count(1)

        page.click("#site-link")
        page.click("#posts-link")
        comment = page.locator(".comment", has_text="Count me in, by email!")
        expect(comment).to_contain_text("reader@example.com")
        expect(comment).not_to_contain_text("Our first post")  # the quote is left out
        inbound_row = page.locator("#inbound tbody tr", has_text="Re: New post:")
        expect(inbound_row.locator(".status")).to_have_text("processed")
        assert DATE_AND_TIME.match(inbound_row.locator("td.when").inner_text())

        page.goto(demo.site + "/admin/example/post/")
        page.locator("#result_list a", has_text="Hello from the example blog").click()
        expect(page.locator("#content")).to_contain_text("Count me in, by email!")
        post_admin = page.url
        admin_pages = [("admin-post", post_admin)]
        # The inbound messages' admin (postmark/admin/), where the app has one.
        inbound_admin = demo.site + "/admin/postmark/inboundmessage/"
        if page.goto(inbound_admin).status == 200:
            admin_pages.append(("admin-inbound", inbound_admin))

        cookies = page.context.cookies()
        photograph(browser, demo.site + "/posts/", "site-posts", cookies)
        photograph(browser, sandbox_page, "sandbox-reply-link", [])
        photograph(browser, reply_form, "sandbox-reply-form", [])
        for name, url in admin_pages:
            photograph(browser, url, name, cookies, ours=False)
