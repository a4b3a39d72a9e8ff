"""End to end, as a newcomer sees it: the demo's real processes, driven in headless Chromium.

Uses Debian's /usr/bin/chromium (``.ci/run`` installs it); ``playwright install`` is never
needed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.example_demo import BOUNCE_TESTING, running_demo

pytestmark = [pytest.mark.browser, pytest.mark.worker]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def browser_page() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        page = browser.new_page()
        page.set_default_timeout(30_000)
        try:
            yield page
        finally:
            browser.close()


def test_hard_bounce_sent_from_the_page_appears_on_the_page_and_in_the_admin(
    browser_page: Any, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    page = browser_page
    address = f"hardbounce@{BOUNCE_TESTING}"
    with running_demo(tmp_path) as demo:
        page.goto(demo.site + "/")
        page.fill("#id_to", address)
        page.fill("#id_subject", "Browser test")
        page.click("#send")
        expect(page.locator(".flash")).to_contain_text(address)

        # The webhook arrives a moment later; the page refreshes its live part by itself.
        bounces = page.locator("#bounces")
        expect(bounces).to_contain_text("HardBounce")
        expect(bounces).to_contain_text(address)
        sent_row = page.locator("#sent-messages tr", has_text="Browser test")
        expect(sent_row.locator(".status")).to_have_text("bounced")
        expect(page.locator("#suppressions")).to_contain_text(address)

        # A second send to the address is suppressed before it reaches Postmark.
        page.fill("#id_to", address)
        page.click("#send")
        expect(page.locator(".flash")).to_contain_text("suppressed")

        page.goto(demo.site + "/admin/")
        page.fill("#id_username", demo.username)
        page.fill("#id_password", demo.password)
        page.click("input[type=submit]")
        expect(page.locator("#user-tools")).to_contain_text(demo.username)
        page.goto(demo.site + "/admin/postmark/bounce/")
        expect(page.locator("#result_list")).to_contain_text(address)
        page.goto(demo.site + "/admin/postmark/message/?status=bounced")
        expect(page.locator("#result_list")).to_contain_text("Browser test")
