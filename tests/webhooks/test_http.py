"""The webhook URLs as HTTP: credentials, methods, middleware, bodies that are refused."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from django.test import Client
from django.urls import clear_url_caches

from postmark import events
from postmark.installation.checks import check_webhook_credentials
from postmark.models import Bounce, Message, Suppression, WebhookEvent
from tests.support import webhook_payloads as payloads
from tests.support.webhook_helpers import (
    AUTH,
    BOUNCE_URL,
    EVENTS_URL,
    INBOUND_URL,
    basic_auth,
    post,
    sent_message,
)
from tests.webhooks import urls_elsewhere

pytestmark = pytest.mark.django_db


# --- HTTP: auth, methods, middleware ------------------------------------------------------------


@pytest.mark.parametrize(
    "auth",
    [
        None,
        basic_auth("hook-user", "wrong"),
        basic_auth("hook-user", "hook-password "),
        "Bearer hook-password",
        "Basic not-base64!",
    ],
)
def test_missing_or_wrong_credentials_get_401_and_store_nothing(
    client: Client, auth: str | None
) -> None:
    response = post(client, payloads.bounce(), auth=auth)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Basic realm="postmark"'
    assert not WebhookEvent.objects.exists()


def test_a_second_credential_pair_is_accepted_during_rotation(
    client: Client, settings: Any
) -> None:
    settings.POSTMARK_WEBHOOK_CREDENTIALS = [("postmark", "new-secret")]
    new = basic_auth("postmark", "new-secret")

    assert post(client, payloads.bounce(), auth=new).status_code == 200
    assert post(client, payloads.delivery(), auth=AUTH).status_code == 200


def test_without_credentials_configured_every_request_is_accepted_and_a_check_warns(
    client: Client, settings: Any
) -> None:
    settings.POSTMARK_API_USER = settings.POSTMARK_API_PASSWORD = None

    assert post(client, payloads.bounce(), auth=None).status_code == 200
    assert [m.id for m in check_webhook_credentials()] == ["postmark.W001"]


def test_with_credentials_configured_the_check_is_quiet() -> None:
    assert "postmark.W001" not in [m.id for m in check_webhook_credentials()]


@pytest.mark.parametrize("method", ["get", "put", "patch", "delete", "options"])
def test_other_methods_than_post_get_405(client: Client, method: str) -> None:
    response = getattr(client, method)(BOUNCE_URL, HTTP_AUTHORIZATION=AUTH)

    assert response.status_code == 405
    assert response["Allow"] == "POST, HEAD"


@pytest.mark.parametrize("url", [BOUNCE_URL, EVENTS_URL, INBOUND_URL])
def test_head_answers_200(client: Client, url: str) -> None:
    assert client.head(url).status_code == 200


def test_the_url_names_resolve() -> None:
    from django.urls import reverse

    assert reverse("postmark_bounce_hook") == BOUNCE_URL
    assert reverse("postmark_events_hook") == EVENTS_URL
    assert reverse("postmark_inbound_hook") == INBOUND_URL


def test_csrf_checks_do_not_apply() -> None:
    client = Client(enforce_csrf_checks=True)

    assert post(client, payloads.bounce()).status_code == 200


def test_works_under_atomic_requests_and_keeps_the_failure_row(
    client: Client, settings: Any, broken_receiver: list[int]
) -> None:
    from django.db import connection

    connection.settings_dict["ATOMIC_REQUESTS"] = True
    try:
        assert post(client, payloads.bounce()).status_code == 500
        assert post(client, payloads.delivery()).status_code == 200
    finally:
        connection.settings_dict["ATOMIC_REQUESTS"] = False
    assert sorted(WebhookEvent.objects.values_list("status", flat=True)) == ["failed", "processed"]


def test_works_with_login_required_middleware(client: Client, settings: Any) -> None:
    settings.MIDDLEWARE = [
        *settings.MIDDLEWARE,
        "django.contrib.auth.middleware.LoginRequiredMiddleware",
    ]

    assert post(client, payloads.bounce()).status_code == 200
    assert client.get("/admin/postmark/bounce/").status_code == 302  # the middleware is on


# --- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", b"invalid JSON"),
        (b" ", b"invalid JSON"),
        (b"\xff\xfe{}", b"invalid JSON"),
        (b'{"RecordType": "Bounce", "ID": NaN}', b"invalid JSON"),
        (b"[" * 100000, f"JSON nested deeper than {events.MAX_DEPTH} levels".encode()),
        (b"[]", b"expected a JSON object, got list"),
        (b'[{"RecordType": "Bounce"}]', b"expected a JSON object, got list"),
        (b'"Bounce"', b"expected a JSON object, got str"),
        (b"42", b"expected a JSON object, got int"),
        (b"null", b"expected a JSON object, got NoneType"),
    ],
)
def test_a_body_that_is_not_a_json_object_gets_400_and_stores_nothing(
    client: Client, body: bytes, reason: bytes
) -> None:
    response = post(client, body)

    assert response.status_code == 400
    assert response.content.startswith(reason)
    assert not WebhookEvent.objects.exists()


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded"])
def test_a_wrong_content_type_gets_415(client: Client, content_type: str) -> None:
    response = post(client, json.dumps(payloads.bounce()), content_type=content_type)

    assert response.status_code == 415
    assert not WebhookEvent.objects.exists()


def test_a_content_type_with_a_charset_is_accepted(client: Client) -> None:
    response = post(client, payloads.bounce(), content_type="application/json; charset=utf-8")

    assert response.status_code == 200


def test_a_body_over_the_limit_gets_413(client: Client, settings: Any) -> None:
    settings.POSTMARK_WEBHOOK_MAX_BYTES = 1000

    response = post(client, payloads.bounce(Content="x" * 1000))

    assert response.status_code == 413
    assert b"POSTMARK_WEBHOOK_MAX_BYTES" in response.content
    assert not WebhookEvent.objects.exists()


@pytest.mark.parametrize("extra", [1, 5000])
@pytest.mark.parametrize("path", [BOUNCE_URL, EVENTS_URL])
def test_outbound_events_have_their_own_smaller_limit(
    client: Client, settings: Any, extra: int, path: str
) -> None:
    settings.POSTMARK_WEBHOOK_OUTBOUND_MAX_BYTES = limit = 4096
    bounce = payloads.bounce(Content="")
    bounce["Content"] = "x" * (limit + extra - len(json.dumps(bounce)))
    inbound = payloads.inbound(TextBody="")
    inbound["TextBody"] = "x" * (limit + extra - len(json.dumps(inbound)))

    refused = post(client, bounce, path)

    assert refused.status_code == 413
    assert refused.content == (
        f"body over the {limit}-byte limit (POSTMARK_WEBHOOK_OUTBOUND_MAX_BYTES)\n".encode()
    )
    # Inbound mail keeps POSTMARK_WEBHOOK_MAX_BYTES: the same size is taken there.
    assert post(client, inbound, INBOUND_URL).status_code == 200
    assert list(WebhookEvent.objects.values_list("record_type", flat=True)) == ["Inbound"]


def test_an_outbound_event_at_its_limit_is_accepted(client: Client, settings: Any) -> None:
    settings.POSTMARK_WEBHOOK_OUTBOUND_MAX_BYTES = limit = 4096
    bounce = payloads.bounce(Content="")
    bounce["Content"] = "x" * (limit - len(json.dumps(bounce)))

    assert post(client, json.dumps(bounce)).status_code == 200


def test_a_lower_webhook_max_bytes_caps_outbound_events_too(client: Client, settings: Any) -> None:
    settings.POSTMARK_WEBHOOK_MAX_BYTES = 1000

    response = post(client, payloads.delivery(Details="x" * 1000), EVENTS_URL)

    assert response.status_code == 413
    assert b"(POSTMARK_WEBHOOK_MAX_BYTES)" in response.content


def test_the_outbound_default_holds_a_bounce_quoting_a_whole_10_mb_message() -> None:
    from postmark.conf import settings as app_settings

    # Postmark sends messages of up to 10 MB; a bounce report may quote one whole.
    assert app_settings.POSTMARK_WEBHOOK_OUTBOUND_MAX_BYTES > 10 * 1024 * 1024 * 1.1
    assert (
        app_settings.POSTMARK_WEBHOOK_OUTBOUND_MAX_BYTES < app_settings.POSTMARK_WEBHOOK_MAX_BYTES
    )


@pytest.mark.parametrize("name", ["webhook_max_bytes", "webhook_outbound_max_bytes"])
@pytest.mark.parametrize("value", [0, -1, "1MB", 1.5, True])
def test_a_body_limit_that_is_not_a_positive_byte_count_is_refused(name: str, value: Any) -> None:
    from django.core.exceptions import ImproperlyConfigured

    from postmark.conf import PostmarkConf

    with pytest.raises(ImproperlyConfigured, match=f"POSTMARK_{name.upper()}"):
        getattr(PostmarkConf(), f"configure_{name}")(value)


def test_inbound_mail_over_djangos_upload_limit_is_accepted(client: Client, settings: Any) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    attachment = {"Name": "big.bin", "Content": base64.b64encode(b"x" * 5000).decode()}

    response = post(client, payloads.inbound(Attachments=[attachment]), INBOUND_URL)

    assert response.status_code == 200


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (payloads.bounce(ID=None), b"Bounce without a numeric ID"),
        ({k: v for k, v in payloads.bounce().items() if k != "ID"}, b"Bounce without a numeric ID"),
        (payloads.spam_complaint(ID="forty-two"), b"SpamComplaint without a numeric ID"),
        (payloads.delivery(MessageID="not-a-uuid"), b"Delivery without a valid MessageID"),
        (payloads.open_(MessageID=None), b"Open without a valid MessageID"),
        (payloads.subscription_change(Recipient=""), b"SubscriptionChange without a Recipient"),
        (payloads.subscription_change(SuppressSending="maybe"), b"without a true/false"),
        ({"Subject": "no RecordType"}, b"no RecordType"),
        (payloads.inbound(Attachments=[{"Name": "x", "Content": "!!"}]), b"is not base64"),
    ],
)
def test_a_payload_missing_what_it_needs_gets_400_writes_nothing_but_its_record(
    client: Client, caught: list, payload: dict[str, Any], reason: bytes
) -> None:
    url = INBOUND_URL if "Attachments" in payload else BOUNCE_URL

    response = post(client, payload, url)

    assert response.status_code == 400, response.content
    assert reason in response.content
    assert caught == []
    assert not Bounce.objects.exists() and not Suppression.objects.exists()
    row = WebhookEvent.objects.get()  # kept, to be replayed once the code accepts it
    assert (
        row.status == WebhookEvent.Status.REJECTED and row.error.encode() == response.content[:-1]
    )


def test_a_real_unsubscribe_bounce_without_email_or_date_is_stored(client: Client) -> None:
    payload = payloads.bounce(Type="Unsubscribe", TypeCode=16, Inactive=False)
    del payload["Email"], payload["BouncedAt"], payload["Tag"]

    assert post(client, payload).status_code == 200
    bounce = Bounce.objects.get()
    assert (bounce.email, bounce.bounced_at, bounce.tag) == ("", None, "")


def test_on_other_databases_the_orm_writes_the_same_rows(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    from postmark.storage import compiled

    # SQLite, PostgreSQL and MySQL get compiled statements; any other database the ORM's path.
    monkeypatch.setattr(compiled, "VENDORS", frozenset())
    message = sent_message()

    post(client, payloads.bounce())
    post(client, payloads.bounce(Details="again", ID=4323372036854775807, Tag="x"))
    post(client, payloads.delivery())
    assert post(client, payloads.bounce()).content == b"duplicate\n"

    bounce = Bounce.objects.get()
    assert (bounce.details, bounce.tag, bounce.message) == ("again", "x", message)
    assert Suppression.objects.get().email == "john@example.com"
    message.refresh_from_db()
    assert message.status == Message.Status.BOUNCED and message.delivered_at is not None
    assert WebhookEvent.objects.count() == 3


def test_fields_longer_than_their_columns_are_cut_not_refused(client: Client) -> None:
    long = "x" * 5000

    response = post(client, payloads.bounce(Type=long, Email=long, Tag=long, MessageStream=long))

    assert response.status_code == 200
    bounce = Bounce.objects.get()
    assert (len(bounce.type), len(bounce.email), len(bounce.tag)) == (64, 254, 1000)
    assert Suppression.objects.get().email == "x" * 254


def test_a_user_without_a_password_makes_the_check_warn(settings: Any) -> None:
    settings.POSTMARK_API_PASSWORD = ""

    assert "postmark.W001" in [m.id for m in check_webhook_credentials()]


@pytest.mark.parametrize("value", [["user:pass"], [("user", "")], [("user", "p", "x")], "abc"])
def test_malformed_webhook_credentials_are_refused_naming_the_setting(value: Any) -> None:
    from django.core.exceptions import ImproperlyConfigured

    from postmark.conf import PostmarkConf

    with pytest.raises(ImproperlyConfigured, match="POSTMARK_WEBHOOK_CREDENTIALS"):
        PostmarkConf().configure_webhook_credentials(value)


class _Urls:
    """A module-like URLconf for override_settings(ROOT_URLCONF=...)."""

    def __init__(self, patterns: list[Any]) -> None:
        self.urlpatterns = patterns


@pytest.mark.parametrize(("urlconf", "warned"), [("without_webhooks", False), ("namespaced", True)])
def test_w001_warns_only_a_project_that_serves_the_webhooks(
    settings: Any, urlconf: str, warned: bool
) -> None:
    settings.POSTMARK_API_USER = settings.POSTMARK_API_PASSWORD = None
    settings.ROOT_URLCONF = _Urls(getattr(urls_elsewhere, urlconf))
    clear_url_caches()
    try:
        ids = [m.id for m in check_webhook_credentials()]
    finally:
        clear_url_caches()

    assert ids == (["postmark.W001"] if warned else [])


@pytest.mark.parametrize("url", [BOUNCE_URL, EVENTS_URL])
def test_a_webhook_url_without_its_trailing_slash_is_served(
    client: Client, settings: Any, url: str
) -> None:
    settings.APPEND_SLASH = True
    settings.DEBUG = True  # where CommonMiddleware would raise rather than redirect a POST

    response = post(client, payloads.bounce(), url.rstrip("/"))

    assert (response.status_code, response.content) == (200, b"processed\n")
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.PROCESSED


def test_inbound_without_its_trailing_slash_is_served(client: Client) -> None:
    response = post(client, payloads.inbound(), INBOUND_URL.rstrip("/"))

    assert response.status_code == 200
