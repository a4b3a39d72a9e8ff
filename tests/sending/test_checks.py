"""System checks name the sending setting to fix."""

from __future__ import annotations

import base64
import itertools
import json
import re

import django
import pytest
from django.conf import global_settings
from django.core.checks import run_checks
from django.core.exceptions import ImproperlyConfigured
from django.core.mail import send_mail
from django.test import Client, override_settings
from hypothesis import given
from hypothesis import strategies as st

from postmark.conf import PostmarkConf
from postmark.installation.checks import check_sender, check_webhook_credentials
from tests.support import webhook_payloads as payloads

# Django 6.1 runs database checks too.
pytestmark = pytest.mark.django_db


def ids() -> set[str]:
    return {
        message.id for message in run_checks() if message.id and message.id.startswith("postmark.E")
    }


def test_configured_backend_passes(settings) -> None:  # type: ignore[no-untyped-def]
    assert not {"postmark.E001", "postmark.E002"} & ids()


def test_missing_api_key_is_e001(settings) -> None:  # type: ignore[no-untyped-def]
    settings.POSTMARK_API_KEY = None
    assert "postmark.E001" in ids()


def test_test_mode_needs_no_key(settings) -> None:  # type: ignore[no-untyped-def]
    settings.POSTMARK_API_KEY = None
    settings.POSTMARK_TEST_MODE = True
    assert "postmark.E001" not in ids()


def test_other_backend_needs_no_key(settings) -> None:  # type: ignore[no-untyped-def]
    settings.POSTMARK_API_KEY = None
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert "postmark.E001" not in ids()


def test_unknown_track_links_is_e002(settings) -> None:  # type: ignore[no-untyped-def]
    settings.POSTMARK_TRACK_LINKS = "Always"
    assert "postmark.E002" in ids()


@pytest.mark.skipif(django.VERSION < (6, 1), reason="MAILERS is new in Django 6.1")
def test_mailers_with_postmark_and_no_key_is_e001(settings) -> None:  # type: ignore[no-untyped-def]
    del settings.EMAIL_BACKEND
    settings.MAILERS = {"default": {"BACKEND": "postmark.backends.PostmarkBackend"}}
    settings.POSTMARK_API_KEY = None
    assert "postmark.E001" in ids()


# --- postmark.W001: the webhook's credentials, named as docs/settings.rst teaches them ---------

WEBHOOK_SETTINGS = (
    "POSTMARK_WEBHOOK_USER",
    "POSTMARK_WEBHOOK_PASSWORD",
    "POSTMARK_API_USER",
    "POSTMARK_API_PASSWORD",
)
SETTING_NAME = re.compile(r"\bPOSTMARK_[A-Z_]+\b")


def expected_missing(values: dict[str, str | None], rotation: bool) -> set[str]:
    """What docs/settings.rst says: the pair is POSTMARK_WEBHOOK_USER/_PASSWORD, or the original
    names; a half that is set is answered in its own spelling."""
    user = next((n for n in WEBHOOK_SETTINGS[::2] if values[n]), None)
    password = next((n for n in WEBHOOK_SETTINGS[1::2] if values[n]), None)
    if user and password:
        return set()
    if user:
        return {user.replace("_USER", "_PASSWORD")}
    if password:
        return {password.replace("_PASSWORD", "_USER")}
    return set() if rotation else {"POSTMARK_WEBHOOK_USER", "POSTMARK_WEBHOOK_PASSWORD"}


def test_w001_names_exactly_the_webhook_settings_that_are_missing() -> None:
    # Every combination: each of the four names unset, empty or set, with and without pairs
    # in POSTMARK_WEBHOOK_CREDENTIALS (a user and its alias set alike, as postmark.conf wants).
    for combination in itertools.product([None, "", "hook"], repeat=4):
        values = dict(zip(WEBHOOK_SETTINGS, combination, strict=True))
        for rotation in (False, True):
            pairs = [("rotating", "secret")] if rotation else []
            with override_settings(**values, POSTMARK_WEBHOOK_CREDENTIALS=pairs):
                warnings = check_webhook_credentials()
            missing = expected_missing(values, rotation)
            assert [w.id for w in warnings] == (["postmark.W001"] if missing else []), values
            for warning in warnings:
                assert set(SETTING_NAME.findall(warning.msg)) == missing, (values, warning.msg)
                assert set(SETTING_NAME.findall(warning.hint or "")) == missing, warning.hint


def test_the_views_require_the_pair_under_either_name(client: Client) -> None:
    body = json.dumps(payloads.delivery())
    spellings = [("POSTMARK_WEBHOOK_USER", "POSTMARK_WEBHOOK_PASSWORD")]
    spellings.append(("POSTMARK_API_USER", "POSTMARK_API_PASSWORD"))
    for user_name, password_name in spellings:
        unset = dict.fromkeys(WEBHOOK_SETTINGS)
        with override_settings(**{**unset, user_name: "u", password_name: "p"}):
            refused = client.post("/postmark/events/", body, content_type="application/json")
            token = base64.b64encode(b"u:p").decode()
            taken = client.post(
                "/postmark/events/",
                body,
                content_type="application/json",
                HTTP_AUTHORIZATION=f"Basic {token}",
            )
        assert (refused.status_code, taken.status_code) == (401, 200), user_name


# --- postmark.W021 / W022: a sender Postmark refuses on every send ----------------------------


def sender_warnings() -> dict[str, str]:
    return {w.id: w.msg for w in check_sender() if w.id}


@pytest.mark.parametrize(
    "backend", ["postmark.backends.PostmarkBackend", "postmark.backends.QueuedPostmarkBackend"]
)
def test_djangos_default_sender_is_w021(settings, backend: str) -> None:  # type: ignore[no-untyped-def]
    settings.EMAIL_BACKEND = backend
    settings.DEFAULT_FROM_EMAIL = global_settings.DEFAULT_FROM_EMAIL  # Django's own default
    assert global_settings.DEFAULT_FROM_EMAIL == "webmaster@localhost"
    message = sender_warnings()["postmark.W021"]
    assert "DEFAULT_FROM_EMAIL" in message and "webmaster@localhost" in message


single_label = st.from_regex(r"[a-z][a-z0-9-]{0,20}", fullmatch=True)
local_part = st.from_regex(r"[a-z0-9][a-z0-9._+-]{0,20}", fullmatch=True)
unsendable = st.one_of(
    st.builds("{}@{}".format, local_part, single_label),  # root@server: no public domain
    st.builds("{}@{}.localhost".format, local_part, single_label),
    st.builds("{}@{}".format, local_part, st.sampled_from(["LOCALHOST", "localhost."])),
    st.builds("Site <{}@{}>".format, local_part, single_label),
    local_part,  # no "@" at all
    st.builds("{}@".format, local_part),
    st.builds("{0}@example.com, {0}@example.org".format, local_part),  # two addresses
)


@given(sender=unsendable)
def test_a_sender_no_postmark_account_can_use_is_w021(sender: str) -> None:
    with override_settings(DEFAULT_FROM_EMAIL=sender):
        message = sender_warnings().get("postmark.W021")
    assert message is not None, sender
    assert message.startswith("DEFAULT_FROM_EMAIL ") and repr(sender) in message


@given(
    sender=st.builds(
        "{}{}@{}.{}".format,
        st.sampled_from(["", "Site ", "Ünïcode Name "]),
        local_part,
        single_label,
        st.sampled_from(["com", "example", "co.uk", "xn--p1ai"]),
    )
)
def test_a_sender_on_a_real_domain_is_not_warned_of(sender: str) -> None:
    if sender.count(" ") and not sender.endswith(">"):
        name, _, address = sender.rpartition(" ")
        sender = f"{name} <{address}>"
    with override_settings(DEFAULT_FROM_EMAIL=sender):
        assert "postmark.W021" not in sender_warnings(), sender


@pytest.mark.parametrize(
    "backend",
    [
        "django.core.mail.backends.locmem.EmailBackend",
        "postmark.testing.backend.PostmarkTestBackend",  # keeps the messages in memory
    ],
)
def test_the_sender_is_not_checked_when_mail_does_not_go_to_postmark(  # type: ignore[no-untyped-def]
    settings, backend: str
) -> None:
    settings.EMAIL_BACKEND = backend
    settings.DEFAULT_FROM_EMAIL = "webmaster@localhost"
    assert sender_warnings() == {}


def test_server_email_is_checked_when_django_mails_admins(settings) -> None:  # type: ignore[no-untyped-def]
    settings.SERVER_EMAIL = global_settings.SERVER_EMAIL  # root@localhost
    assert "postmark.W022" not in sender_warnings()  # no ADMINS: Django never sends from it
    settings.ADMINS = [("Ops", "ops@example.com")]
    assert (
        "SERVER_EMAIL is Django's default, 'root@localhost'" in sender_warnings()["postmark.W022"]
    )
    settings.SERVER_EMAIL = "errors@example.com"
    assert sender_warnings() == {}


# --- POSTMARK_API_URL: a URL the client can post to, or ImproperlyConfigured naming it ---------

host = st.from_regex(r"[a-z][a-z0-9-]{0,12}(\.[a-z]{2,6}){0,2}", fullmatch=True)
port = st.one_of(st.just(""), st.integers(1, 65535).map(":{}".format))
path = st.sampled_from(["", "/", "/postmark", "/api/"])
good_url = st.builds(
    "{}://{}{}{}".format, st.sampled_from(["http", "https", "HTTPS"]), host, port, path
)
bad_urls = {
    "no scheme": st.builds("{}{}{}".format, host, port, path)
    | st.builds("//{}{}".format, host, port),
    "other scheme": st.builds(
        "{}://{}".format,
        st.from_regex(r"[a-z][a-z0-9+.-]{0,8}", fullmatch=True).filter(
            lambda scheme: scheme not in ("http", "https")
        ),
        host,
    ),
    "no host": st.builds("{}://{}{}".format, st.sampled_from(["http", "https"]), port, path),
    "credentials": st.builds(
        "https://{}@{}{}".format,
        st.sampled_from(["token", "user:secret-token", ":secret-token", ""]),
        host,
        port,
    ),
    "query or fragment": st.builds(
        "{}{}{}".format,
        good_url,
        st.sampled_from(["?", "#", "/?"]),
        st.text(st.characters(codec="ascii", categories=["L", "N"]), max_size=8),
    ),
}


@given(url=good_url)
def test_a_valid_api_url_is_taken(url: str) -> None:
    assert PostmarkConf().configure_api_url(url) == url


@given(data=st.data(), kind=st.sampled_from(sorted(bad_urls)))
def test_a_bad_api_url_is_refused_at_start_up_naming_the_setting(
    data: st.DataObject, kind: str
) -> None:
    url = data.draw(bad_urls[kind])
    with pytest.raises(ImproperlyConfigured, match=r"^POSTMARK_API_URL ") as refused:
        PostmarkConf().configure_api_url(url)
    assert "secret-token" not in str(refused.value)  # the URL, which may hold it, is not shown


@given(url=bad_urls["no scheme"] | bad_urls["other scheme"])
def test_a_bad_api_url_set_later_is_refused_before_any_request(url: str) -> None:
    # override_settings does not run postmark.conf's hooks: the client checks it again.
    with (
        override_settings(POSTMARK_API_URL=url),
        pytest.raises(ImproperlyConfigured, match=r"^POSTMARK_API_URL "),
    ):
        send_mail("Hi", "Body", "sender@example.com", ["ann@example.com"])
