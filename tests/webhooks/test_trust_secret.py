"""The secret header (POSTMARK_WEBHOOK_HEADER, POSTMARK_WEBHOOK_SECRETS): outbound events without
the current or a rotated secret are refused before anything is stored, every secret is compared
every time, and the header never reaches a row or a log. Inbound mail is never asked for it."""

from __future__ import annotations

import hmac
import itertools
import json
import logging
from typing import Any

import pytest
from django.test import Client
from hypothesis import given
from hypothesis import strategies as st

from postmark.models import Bounce, WebhookEvent
from tests.support import webhook_payloads as payloads
from tests.support.webhook_helpers import AUTH, BOUNCE_URL, EVENTS_URL, INBOUND_URL, post

pytestmark = pytest.mark.django_db

HEADER = "X-Postmark-Webhook-Secret"
META = "HTTP_X_POSTMARK_WEBHOOK_SECRET"
CURRENT = "current-4f9a1c7e2b8d6a0f3e5c9b1d"
OLD = "previous-8e2d4b6f0a1c3e5d7f9b2a4c"
_ids = itertools.count(1)


@pytest.fixture(autouse=True)
def _secrets(settings: Any) -> None:
    settings.POSTMARK_WEBHOOK_SECRETS = [CURRENT, OLD]


def bounce() -> dict[str, Any]:
    return payloads.bounce(ID=next(_ids))  # each body its own, so that none is a repeat


def post_with(client: Client, secret: str | None, url: str = EVENTS_URL, **extra: str) -> Any:
    headers = {META: secret} if secret is not None else {}
    return client.post(
        url,
        json.dumps(bounce()),
        content_type="application/json",
        HTTP_AUTHORIZATION=AUTH,
        **headers,
        **extra,
    )


@pytest.mark.parametrize("secret", [CURRENT, OLD], ids=["current", "rotated-out"])
def test_an_outbound_event_with_the_current_or_the_previous_secret_is_stored(
    client: Client, secret: str
) -> None:
    response = post_with(client, secret)
    assert response.status_code == 200, response.content
    assert WebhookEvent.objects.count() == 1 and Bounce.objects.count() == 1


@pytest.mark.parametrize(
    "secret",
    [None, "", "wrong", CURRENT[:-1], CURRENT + "x", CURRENT.upper(), f"{CURRENT},{OLD}"],
    ids=["missing", "empty", "wrong", "cut", "longer", "case", "both"],
)
@pytest.mark.parametrize("url", [BOUNCE_URL, EVENTS_URL])
def test_a_missing_or_wrong_secret_gets_403_and_nothing_is_stored(
    client: Client, secret: str | None, url: str
) -> None:
    response = post_with(client, secret, url)
    assert response.status_code == 403
    assert response.content == b"forbidden: the webhook secret header is missing or wrong\n"
    assert WebhookEvent.objects.count() == 0 and Bounce.objects.count() == 0


@given(value=st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF)))
def test_no_other_header_value_is_accepted(value: str) -> None:
    client = Client()
    response = post_with(client, value)
    assert (response.status_code == 200) == (value in (CURRENT, OLD)), value
    assert WebhookEvent.objects.count() == (1 if value in (CURRENT, OLD) else 0)
    WebhookEvent.objects.all().delete()
    Bounce.objects.all().delete()


def test_the_header_name_is_matched_whatever_its_case(client: Client, settings: Any) -> None:
    settings.POSTMARK_WEBHOOK_HEADER = "x-site-HOOK-key"
    assert post_with(client, CURRENT).status_code == 403  # the default name no longer counts
    assert post_with(client, CURRENT, HTTP_X_SITE_HOOK_KEY=CURRENT).status_code == 200


def test_every_configured_secret_is_compared_whichever_matches(
    client: Client, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    secrets = [CURRENT, OLD, "third-5a7c9e1b3d5f7a9c1e3b"]
    settings.POSTMARK_WEBHOOK_SECRETS = secrets
    compared: list[bytes] = []
    real = hmac.compare_digest

    def spy(given: Any, expected: Any) -> bool:
        compared.append(expected)
        return real(given, expected)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    for sent in (CURRENT, secrets[2], "wrong", None):
        compared.clear()
        post_with(client, sent)
        # Basic auth compares its pair too; every secret is compared, each once, in order.
        assert [c for c in compared if c.decode() in secrets] == [s.encode() for s in secrets]


def test_an_empty_secret_in_the_list_never_matches_a_missing_header(
    client: Client, settings: Any
) -> None:
    settings.POSTMARK_WEBHOOK_SECRETS = ["", CURRENT]
    assert post_with(client, None).status_code == 403
    assert post_with(client, "").status_code == 403
    assert post_with(client, CURRENT).status_code == 200


def test_a_setting_that_is_no_list_of_secrets_refuses_every_outbound_event(
    client: Client, settings: Any
) -> None:
    # A bare string or empty strings protect more, never less (system check E042 says why).
    for value in (CURRENT, [""], [None]):
        settings.POSTMARK_WEBHOOK_SECRETS = value
        assert post_with(client, CURRENT).status_code == 403
        assert post_with(client, None).status_code == 403
    assert WebhookEvent.objects.count() == 0


def test_without_secrets_no_header_is_asked_for(client: Client, settings: Any) -> None:
    settings.POSTMARK_WEBHOOK_SECRETS = []
    assert post_with(client, None).status_code == 200


def test_basic_auth_is_still_required_with_the_right_secret(client: Client) -> None:
    response = client.post(
        EVENTS_URL, json.dumps(bounce()), content_type="application/json", **{META: CURRENT}
    )
    assert response.status_code == 401 and WebhookEvent.objects.count() == 0


def test_inbound_mail_is_not_asked_for_the_secret(client: Client) -> None:
    """Postmark cannot set custom headers on the server's inbound hook."""
    response = post(client, payloads.inbound(), INBOUND_URL)
    assert response.status_code == 200, response.content
    assert WebhookEvent.objects.get().record_type == "Inbound"


@pytest.mark.parametrize("name", ["X-Postmark-Webhook-Secret", "X-Site-Hook-Key"])
def test_the_secret_header_is_never_stored(client: Client, settings: Any, name: str) -> None:
    settings.POSTMARK_WEBHOOK_HEADER = name
    meta = "HTTP_" + name.upper().replace("-", "_")
    # The default name is left out too: a webhook set up before a rename may still send it.
    extra = {meta: CURRENT, "HTTP_X_POSTMARK_WEBHOOK_SECRET": OLD, "HTTP_X_OTHER": "kept"}
    response = client.post(
        EVENTS_URL,
        json.dumps(bounce()),
        content_type="application/json",
        HTTP_AUTHORIZATION=AUTH,
        **extra,
    )
    assert response.status_code == 200, response.content
    row = WebhookEvent.objects.get()
    assert row.headers["X-Other"] == "kept"
    assert not {key.lower() for key in row.headers} & {name.lower(), HEADER.lower()}
    assert CURRENT not in json.dumps(row.headers) and OLD not in json.dumps(row.headers)


def test_the_secret_is_never_logged(client: Client, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    post_with(client, CURRENT)
    post_with(client, "wrong-" + OLD)
    post_with(client, OLD, INBOUND_URL)
    logged = "\n".join(
        f"{record.getMessage()} {record.args!r} {vars(record)!r}" for record in caplog.records
    )
    assert caplog.records  # the refusal is logged (django.request's "Forbidden")
    assert CURRENT not in logged and OLD not in logged


def test_the_secrets_setting_is_concealed_in_reports(settings: Any) -> None:
    from postmark.conf import Secret

    assert all(isinstance(secret, Secret) for secret in settings.POSTMARK_WEBHOOK_SECRETS)
    assert CURRENT not in repr(settings.POSTMARK_WEBHOOK_SECRETS)
