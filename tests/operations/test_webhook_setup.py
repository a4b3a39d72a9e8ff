"""``postmark_webhooks``: Postmark's webhook of each stream set up, and checked, through the
sandbox's Webhooks API."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from postmark.client import Client
from postmark.operations.webhook_setup import TRIGGERS
from postmark.sandbox import Sandbox

URL = "https://shop.example.com/postmark/events/"


def webhooks(*args: str) -> str:
    out = io.StringIO()
    call_command("postmark_webhooks", "--url", URL, *args, stdout=out)
    return out.getvalue()


def test_install_creates_one_webhook_per_outbound_stream(postmark_sandbox: Sandbox) -> None:
    output = webhooks()
    assert "outbound: webhook 1 created" in output and "broadcast: webhook 2 created" in output
    hooks = Client.from_settings().list_webhooks()
    assert sorted(h["MessageStream"] for h in hooks) == ["broadcast", "outbound"]
    hook = hooks[0]
    assert hook["Url"] == URL
    assert hook["HttpAuth"] == {"Username": "hook-user", "Password": "hook-password"}
    assert all(hook["Triggers"][name]["Enabled"] for name in TRIGGERS)


def test_a_second_run_changes_nothing_and_check_passes(postmark_sandbox: Sandbox) -> None:
    webhooks()
    assert "outbound: webhook 1 unchanged" in webhooks()
    assert "outbound: as expected" in webhooks("--check")


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"Url": "https://shop.example.com/old/"}, "URL is 'https://shop.example.com/old/'"),
        ({"HttpAuth": {"Username": "hook-user", "Password": "old"}}, "credentials differ"),
        ({"Triggers": {"Open": {"Enabled": False}}}, "trigger Open is off"),
    ],
)
def test_check_fails_after_the_webhook_is_changed_and_a_run_mends_it(
    postmark_sandbox: Sandbox, change: dict[str, Any], problem: str
) -> None:
    webhooks("--stream", "outbound")
    Client.from_settings().edit_webhook(1, change)
    out = io.StringIO()
    with pytest.raises(CommandError, match="1 stream\\(s\\) differ"):
        call_command(
            "postmark_webhooks", "--url", URL, "--check", "--stream", "outbound", stdout=out
        )
    assert problem in out.getvalue()
    assert "webhook 1 updated" in webhooks("--stream", "outbound")
    assert "as expected" in webhooks("--check", "--stream", "outbound")


def test_check_without_any_webhook_fails(postmark_sandbox: Sandbox) -> None:
    with pytest.raises(CommandError):
        webhooks("--check")


def test_url_comes_from_the_setting_and_must_be_given(
    postmark_sandbox: Sandbox, settings: Any
) -> None:
    with pytest.raises(CommandError, match="POSTMARK_WEBHOOK_URL"):
        call_command("postmark_webhooks")
    settings.POSTMARK_WEBHOOK_URL = URL
    call_command("postmark_webhooks", stdout=io.StringIO())
    assert Client.from_settings().list_webhooks("outbound")[0]["Url"] == URL


def test_credentials_in_the_url_are_refused(postmark_sandbox: Sandbox) -> None:
    with pytest.raises(CommandError, match="without credentials"):
        call_command("postmark_webhooks", "--url", "https://u:p@shop.example.com/postmark/")


def test_unknown_stream_is_postmarks_error(postmark_sandbox: Sandbox) -> None:
    with pytest.raises(CommandError, match=r"Postmark refused: .*not found"):
        webhooks("--stream", "nope")


def test_the_sandbox_posts_to_the_configured_webhook_with_its_auth(
    postmark_sandbox: Sandbox,
) -> None:
    webhooks("--stream", "outbound")
    target = postmark_sandbox.webhooks.target_for("outbound", "Bounce")
    assert target == "https://hook-user:hook-password@shop.example.com/postmark/events/"
    Client.from_settings().edit_webhook(1, {"Triggers": {"Bounce": {"Enabled": False}}})
    assert postmark_sandbox.webhooks.target_for("outbound", "Bounce") is None
