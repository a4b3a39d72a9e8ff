"""Operating it, in the demo's real processes and headless Chromium: a bounce the site missed
(webhooks switched off in the sandbox) recovered by ``postmark_sync``, reactivated and lifted
from the admin, and the overview showing the numbers the rows say."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.support.example_demo import (
    BOUNCE_TESTING,
    SCREENSHOTS,
    Demo,
    example_env,
    running_demo,
)

# checkout: the example project is not in the wheel (make test-wheel leaves this out).
pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.checkout, pytest.mark.example]

MANAGE = Path(__file__).resolve().parents[2] / "example_project" / "manage.py"


def manage(demo: Demo, *args: str) -> str:
    env = dict(example_env(demo.database), POSTMARK_API_URL=demo.sandbox)
    done = subprocess.run(
        [sys.executable, str(MANAGE), *args], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def send_from_the_page(page: Any, demo: Demo, address: str, subject: str) -> None:
    from playwright.sync_api import expect

    page.goto(demo.site + "/")
    page.fill("#id_to", address)
    page.fill("#id_subject", subject)
    page.click("#send")
    expect(page.locator(".flash")).to_contain_text(address)


def log_in(page: Any, demo: Demo) -> None:
    page.goto(demo.site + "/admin/")
    page.fill("#id_username", demo.username)
    page.fill("#id_password", demo.password)
    page.click("input[type=submit]")


def run_action(page: Any, url: str, row_text: str, action: str) -> None:
    page.goto(url)
    page.locator("#result_list tr", has_text=row_text).locator("input.action-select").check()
    page.select_option("select[name=action]", action)
    page.click("button[name=index]")


def fits(page: Any) -> bool:
    """The change list needs no horizontal scrolling."""
    return bool(
        page.evaluate(
            # .results scrolls sideways (overflow: auto) when its table is too wide.
            "() => { const box = document.querySelector('#changelist .results');"
            " return box.scrollWidth <= box.clientWidth + 1"
            " && box.getBoundingClientRect().right <= window.innerWidth; }"
        )
    )


def shoot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}-desktop.png"
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")


def wait_for_sandbox_bounces(page: Any, demo: Demo, count: int) -> None:
    for _ in range(100):
        if len(demo.sandbox_state()["bounces"]) >= count:
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"the sandbox has fewer than {count} bounces: {demo.sandbox_state()}")


def test_missed_bounce_is_synced_reactivated_and_lifted_and_the_overview_counts_it(
    browser_page: Any,
    tmp_path: Path,
) -> None:
    from playwright.sync_api import expect

    page = browser_page
    page.set_viewport_size({"width": 1280, "height": 900})
    missed = f"hardbounce@{BOUNCE_TESTING}"
    with running_demo(tmp_path) as demo:
        # The site is "unreachable": the sandbox keeps its webhooks to itself.
        requests.put(demo.sandbox + "/sandbox/webhooks", json={"Enabled": False}, timeout=5)
        log_in(page, demo)  # the site's pages and the admin share one sign-in
        send_from_the_page(page, demo, missed, "Missed bounce")
        wait_for_sandbox_bounces(page, demo, 1)
        page.goto(demo.site + "/admin/postmark/bounce/")
        expect(page.locator("#changelist")).to_contain_text("0 bounces")

        assert "bounces: 1 new, 0 updated, 0 unchanged" in manage(demo, "postmark_sync")
        assert "bounces: 0 new, 0 updated, 1 unchanged" in manage(demo, "postmark_sync")
        page.goto(demo.site + "/admin/postmark/bounce/")
        expect(page.locator("#result_list")).to_contain_text(missed)
        shoot(page, "admin-bounces")
        assert fits(page), "the bounce list is wider than a 1280-pixel screen"

        run_action(page, demo.site + "/admin/postmark/bounce/", missed, "reactivate")
        expect(page.locator(".messagelist")).to_contain_text(f"Reactivated in Postmark: {missed}")
        assert not demo.sandbox_state()["suppressions"]

        # A second address, suppressed in the sandbox and here, then lifted from the admin.
        requests.put(demo.sandbox + "/sandbox/webhooks", json={"Enabled": True}, timeout=5)
        lifted = f"hard_bounce@{BOUNCE_TESTING}"
        send_from_the_page(page, demo, lifted, "Lifted later")
        expect(page.locator("#suppressions")).to_contain_text(lifted)
        run_action(page, demo.site + "/admin/postmark/suppression/?in_force=yes", lifted, "lift")
        expect(page.locator(".messagelist")).to_contain_text(f"Lifted in Postmark: {lifted}")
        assert not demo.sandbox_state()["suppressions"]
        page.goto(demo.site + "/admin/postmark/suppression/")
        shoot(page, "admin-suppressions")
        assert fits(page), "the suppression list is wider than a 1280-pixel screen"
        page.goto(demo.site + "/admin/postmark/message/")
        assert fits(page), "the message list is wider than a 1280-pixel screen"

        with sqlite3.connect(demo.database) as db:
            sent, bounced = db.execute(
                "SELECT COUNT(message_id), COUNT(bounced_at) FROM postmark_message"
            ).fetchone()
        assert (sent, bounced) == (2, 2)
        page.goto(demo.site + "/admin/")
        page.click("a[href='/admin/postmark/overview/']")
        chart = page.locator("svg.postmark-chart")
        expect(chart.locator("g[data-series=sent]")).to_have_attribute("data-total", str(sent))
        expect(chart.locator("g[data-series=bounced]")).to_have_attribute(
            "data-total", str(bounced)
        )
        totals = page.locator("#overview-table tfoot td")
        expect(totals.nth(0)).to_have_text(str(sent))
        expect(totals.nth(2)).to_have_text(str(bounced))
        expect(page.locator("#bounce-warning")).to_be_visible()  # 2 of 2 bounced
        shoot(page, "admin-overview")
