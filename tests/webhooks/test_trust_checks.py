"""The system checks of what protects the webhooks: each bad setting is an error naming it (and
never a secret's value); ``check --deploy`` says what is and is not protected."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.core.management import call_command
from django.urls import clear_url_caches

from postmark.api.spec import WEBHOOK_SOURCE_ADDRESSES
from postmark.installation.checks import check_webhook_credentials
from postmark.installation.webhook_checks import (
    check_webhook_protection,
    check_webhook_secret,
    check_webhook_sources,
)
from tests.webhooks import urls_elsewhere
from tests.webhooks.test_http import _Urls

SECRET = "s3cr3t-value-that-must-not-show-9d1f"


def ids(messages: list[Any]) -> list[str]:
    return [message.id for message in messages]


def texts(messages: list[Any]) -> str:
    return "\n".join(f"{message.msg} {message.hint}" for message in messages)


# --- POSTMARK_WEBHOOK_SECRETS and POSTMARK_WEBHOOK_HEADER -----------------------------------------


def test_good_secret_settings_are_quiet(settings: Any) -> None:
    settings.POSTMARK_WEBHOOK_SECRETS = [SECRET, "another-one"]
    assert check_webhook_secret() == []


@pytest.mark.parametrize(
    ("value", "named"),
    [
        (SECRET, "POSTMARK_WEBHOOK_SECRETS is not a list"),
        ([SECRET, ""], "POSTMARK_WEBHOOK_SECRETS[1] is not a non-empty string"),
        ([None], "POSTMARK_WEBHOOK_SECRETS[0] is not a non-empty string"),
        ([SECRET + " "], "POSTMARK_WEBHOOK_SECRETS[0] holds a character"),
        ([SECRET + "é"], "POSTMARK_WEBHOOK_SECRETS[0] holds a character"),
        ([SECRET + "\n"], "POSTMARK_WEBHOOK_SECRETS[0] holds a character"),
    ],
)
def test_a_bad_secret_is_an_error_naming_its_place_never_its_value(
    settings: Any, value: Any, named: str
) -> None:
    settings.POSTMARK_WEBHOOK_SECRETS = value
    messages = check_webhook_secret()
    assert ids(messages) == ["postmark.E042"]
    assert named in messages[0].msg
    assert SECRET not in texts(messages)


@pytest.mark.parametrize(
    "name", ["X_Secret", "X Secret", "", "Authorization", "content-type", "X-Forwarded-For", None]
)
def test_a_header_name_no_server_passes_or_that_means_something_else_is_an_error(
    settings: Any, name: Any
) -> None:
    settings.POSTMARK_WEBHOOK_HEADER = name
    messages = check_webhook_secret()
    assert ids(messages) == ["postmark.E043"] and "POSTMARK_WEBHOOK_HEADER" in messages[0].msg


# --- POSTMARK_WEBHOOK_ALLOWED_IPS and POSTMARK_WEBHOOK_TRUSTED_PROXIES ----------------------------


def test_good_address_settings_are_quiet(settings: Any) -> None:
    settings.POSTMARK_WEBHOOK_ALLOWED_IPS = [*WEBHOOK_SOURCE_ADDRESSES, "2001:db8::/32"]
    settings.POSTMARK_WEBHOOK_TRUSTED_PROXIES = ["10.0.0.0/8", "fd00::1"]
    assert check_webhook_sources() == []


@pytest.mark.parametrize("setting", ["ALLOWED_IPS", "TRUSTED_PROXIES"])
@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("10.0.0.1", "is not a list"),
        (["10.0.0.1/8"], "has host bits set"),
        (["example.com"], "'example.com'"),
        (["10.0.0.0/33"], "'10.0.0.0/33'"),
        (["::ffff:10.0.0.1"], "write an IPv4-mapped address as IPv4"),
        ([10], "holds 10, which is not a string"),
    ],
)
def test_a_bad_entry_is_an_error_naming_the_setting_and_the_entry(
    settings: Any, setting: str, value: Any, problem: str
) -> None:
    setattr(settings, f"POSTMARK_WEBHOOK_{setting}", value)
    messages = check_webhook_sources()
    expected = "postmark.E040" if setting == "ALLOWED_IPS" else "postmark.E041"
    assert ids(messages) == [expected]
    assert f"POSTMARK_WEBHOOK_{setting}" in messages[0].msg and problem in messages[0].msg


@pytest.mark.parametrize(
    ("setting", "warning"), [("ALLOWED_IPS", "postmark.W040"), ("TRUSTED_PROXIES", "postmark.W041")]
)
def test_a_network_of_every_address_is_a_warning(settings: Any, setting: str, warning: str) -> None:
    setattr(settings, f"POSTMARK_WEBHOOK_{setting}", ["203.0.113.0/24", "::/0"])
    assert ids(check_webhook_sources()) == [warning]


# --- what is and is not protected ----------------------------------------------------------------


def test_the_deploy_check_says_what_is_not_protected(settings: Any) -> None:
    [info] = check_webhook_protection()
    assert info.id == "postmark.I040"
    assert "basic auth: yes" in info.msg
    assert "secret header: no" in info.msg
    assert "source addresses: any" in info.msg
    assert "X-Forwarded-For: ignored" in info.msg


def test_the_deploy_check_says_what_is_protected_and_that_the_header_is_outbound_only(
    settings: Any,
) -> None:
    settings.POSTMARK_WEBHOOK_SECRETS = [SECRET, "old"]
    settings.POSTMARK_WEBHOOK_ALLOWED_IPS = list(WEBHOOK_SOURCE_ADDRESSES)
    settings.POSTMARK_WEBHOOK_TRUSTED_PROXIES = ["10.0.0.0/8"]
    [info] = check_webhook_protection()
    assert "secret header X-Postmark-Webhook-Secret: yes, outbound events only" in info.msg
    assert "Postmark cannot set headers on inbound mail's hook" in info.msg
    assert "source addresses: only 4 networks" in info.msg
    assert "X-Forwarded-For: believed from 1 network of trusted proxies" in info.msg
    assert SECRET not in info.msg


def test_the_summary_shows_with_check_deploy_only(settings: Any) -> None:
    out = io.StringIO()
    call_command("check", "--deploy", "--tag", "security", stdout=out, stderr=out)
    assert "postmark.I040" in out.getvalue()
    out = io.StringIO()
    call_command("check", "--tag", "security", stdout=out, stderr=out)
    assert "postmark.I040" not in out.getvalue()


def test_a_project_without_the_webhook_views_gets_no_summary(settings: Any) -> None:
    settings.ROOT_URLCONF = _Urls(urls_elsewhere.without_webhooks)
    clear_url_caches()
    try:
        assert check_webhook_protection() == []
    finally:
        clear_url_caches()


def test_without_basic_auth_w001_says_the_secret_leaves_inbound_mail_open(settings: Any) -> None:
    settings.POSTMARK_API_USER = settings.POSTMARK_API_PASSWORD = None
    settings.POSTMARK_WEBHOOK_SECRETS = [SECRET]
    [warning] = check_webhook_credentials()
    assert warning.id == "postmark.W001"
    assert "the inbound view accepts requests from anyone" in warning.msg
    assert SECRET not in warning.msg
