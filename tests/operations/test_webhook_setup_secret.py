"""``postmark_webhooks`` and the secret header: it gives Postmark the current secret, keeps the
webhook's other headers, and ``--check`` says when Postmark's copy is missing or out of date
without ever printing a secret."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from postmark.client import Client
from postmark.sandbox import Sandbox

URL = "https://shop.example.com/postmark/events/"
NEW = "new-secret-0b5d7f9a1c3e5a7c9e1b"
OLD = "old-secret-6f8a0c2e4b6d8f0a2c4e"


def webhooks(*args: str) -> str:
    out = io.StringIO()
    call_command("postmark_webhooks", "--url", URL, "--stream", "outbound", *args, stdout=out)
    return out.getvalue()


def check() -> str:
    out = io.StringIO()
    with pytest.raises(CommandError, match="differ"):
        call_command(
            "postmark_webhooks", "--url", URL, "--check", "--stream", "outbound", stdout=out
        )
    return out.getvalue()


def headers_in_postmark() -> list[dict[str, str]]:
    [hook] = Client.from_settings().list_webhooks("outbound")
    headers: list[dict[str, str]] = hook["HttpHeaders"]
    return headers


def test_the_current_secret_goes_in_the_header_of_every_webhook(
    postmark_sandbox: Sandbox, settings: Any
) -> None:
    settings.POSTMARK_WEBHOOK_SECRETS = [NEW, OLD]
    assert "webhook 1 created" in webhooks()
    assert headers_in_postmark() == [{"Name": "X-Postmark-Webhook-Secret", "Value": NEW}]
    assert "webhook 1 unchanged" in webhooks()
    assert "as expected" in webhooks("--check")


def test_without_secrets_no_header_is_set(postmark_sandbox: Sandbox) -> None:
    webhooks()
    assert headers_in_postmark() == []


def test_a_secret_configured_later_is_drift_and_a_run_sets_it(
    postmark_sandbox: Sandbox, settings: Any
) -> None:
    webhooks()
    settings.POSTMARK_WEBHOOK_SECRETS = [NEW]
    assert "header X-Postmark-Webhook-Secret is not set" in check()
    assert "webhook 1 updated" in webhooks()
    assert headers_in_postmark() == [{"Name": "X-Postmark-Webhook-Secret", "Value": NEW}]


def test_rotation_is_drift_until_a_run_gives_postmark_the_new_secret(
    postmark_sandbox: Sandbox, settings: Any
) -> None:
    settings.POSTMARK_WEBHOOK_SECRETS = [OLD]
    webhooks()
    settings.POSTMARK_WEBHOOK_SECRETS = [NEW, OLD]  # the site accepts both from now on
    output = check()
    assert "does not carry the current secret (POSTMARK_WEBHOOK_SECRETS[0])" in output
    assert NEW not in output and OLD not in output
    assert "webhook 1 updated" in webhooks()
    assert headers_in_postmark() == [{"Name": "X-Postmark-Webhook-Secret", "Value": NEW}]


def test_the_webhooks_other_headers_are_kept(postmark_sandbox: Sandbox, settings: Any) -> None:
    webhooks()
    other = {"Name": "X-Env", "Value": "production"}
    stale = {"Name": "x-postmark-webhook-secret", "Value": OLD}
    Client.from_settings().edit_webhook(1, {"HttpHeaders": [other, stale]})
    settings.POSTMARK_WEBHOOK_SECRETS = [NEW]
    webhooks()
    assert headers_in_postmark() == [other, {"Name": "X-Postmark-Webhook-Secret", "Value": NEW}]


def test_a_renamed_header_replaces_the_old_one(postmark_sandbox: Sandbox, settings: Any) -> None:
    settings.POSTMARK_WEBHOOK_SECRETS = [NEW, OLD]
    settings.POSTMARK_WEBHOOK_HEADER = "X-Shop-Hook"
    webhooks()
    settings.POSTMARK_WEBHOOK_HEADER = "X-Shop-Key"
    assert "header X-Shop-Key is not set" in check()
    webhooks()
    # The old name carried a secret: it goes, so that no secret is left behind under it.
    assert headers_in_postmark() == [{"Name": "X-Shop-Key", "Value": NEW}]
