"""The webhook views over HTTP: what each kind of request gets back and what it stores."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.mail import EmailMultiAlternatives
from django.test import Client

from postmark import events, signals
from postmark.models import Bounce, Message, Suppression, WebhookEvent
from tests.support import webhook_payloads as payloads
from tests.support.webhook_helpers import (
    AUTH,
    BOUNCE_URL,
    EVENTS_URL,
    INBOUND_URL,
    failing_receiver,
    post,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def caught() -> Iterator[list[tuple[Any, dict[str, Any]]]]:
    """Every webhook signal sent during the test, as (signal, kwargs)."""
    calls: list[tuple[Any, dict[str, Any]]] = []
    every = [
        signals.bounce_received,
        signals.spam_complaint_received,
        signals.delivery_received,
        signals.open_received,
        signals.click_received,
        signals.subscription_change_received,
        signals.inbound_received,
    ]
    receivers = []
    for signal in every:

        def receiver(sender: Any, _signal: Any = signal, **kwargs: Any) -> None:
            calls.append((_signal, {"sender": sender, **kwargs}))

        signal.connect(receiver, weak=False)
        receivers.append((signal, receiver))
    yield calls
    for signal, receiver in receivers:
        signal.disconnect(receiver)


def sent_message(**fields: Any) -> Message:
    return Message.objects.create(
        message_id=payloads.MESSAGE_ID,
        status=Message.Status.SENT,
        from_email="sender@example.com",
        to="john@example.com",
        **fields,
    )


# --- every kind is stored once and fires its signal ---------------------------------------------

KINDS = [
    (payloads.bounce, signals.bounce_received, events.BounceEvent),
    (payloads.spam_complaint, signals.spam_complaint_received, events.SpamComplaintEvent),
    (payloads.delivery, signals.delivery_received, events.DeliveryEvent),
    (payloads.open_, signals.open_received, events.OpenEvent),
    (payloads.click, signals.click_received, events.ClickEvent),
    (
        payloads.subscription_change,
        signals.subscription_change_received,
        events.SubscriptionChangeEvent,
    ),
]


@pytest.mark.parametrize(("make", "signal", "event_type"), KINDS)
@pytest.mark.parametrize("url", [BOUNCE_URL, EVENTS_URL])
def test_each_outbound_kind_is_stored_once_and_fires_its_signal(
    client: Client, caught: list, make: Any, signal: Any, event_type: type, url: str
) -> None:
    payload = make()
    response = post(client, payload, url)

    assert response.status_code == 200, response.content
    assert response.content == b"processed\n"
    row = WebhookEvent.objects.get()
    assert row.status == WebhookEvent.Status.PROCESSED
    assert row.record_type == payload["RecordType"]
    assert json.loads(row.body) == payload
    assert row.attempts == 1
    assert row.remote_addr == "127.0.0.1"
    assert "Authorization" not in row.headers and row.headers["Content-Type"] == "application/json"
    assert str(row.message_id) == payloads.MESSAGE_ID
    [(fired, kwargs)] = caught
    assert fired is signal
    assert kwargs["sender"] is event_type and type(kwargs["event"]) is event_type
    assert kwargs["payload"] == payload and kwargs["webhook_event"].pk == row.pk


@pytest.mark.parametrize(("make", "signal", "event_type"), KINDS)
def test_a_redelivered_event_creates_nothing_and_fires_nothing(
    client: Client, caught: list, make: Any, signal: Any, event_type: type
) -> None:
    payload = make()
    post(client, payload)
    rows = {model: model.objects.count() for model in (WebhookEvent, Bounce, Suppression)}

    response = post(client, payload)

    assert response.status_code == 200 and response.content == b"duplicate\n"
    assert {model: model.objects.count() for model in rows} == rows
    assert len(caught) == 1
    assert WebhookEvent.objects.get().attempts == 1


def test_inbound_mail_reaches_its_signal_as_a_django_message_with_attachments(
    client: Client, caught: list
) -> None:
    payload = payloads.inbound()
    payload["Attachments"].append(
        # Postmark's "check" button sends Data instead of Content.
        {
            "Name": "pixel.gif",
            "Data": base64.b64encode(b"GIF89a").decode(),
            "ContentType": "image/gif",
            "ContentID": "pixel@inline",
        }
    )

    response = post(client, payload, INBOUND_URL)

    assert response.status_code == 200, response.content
    assert WebhookEvent.objects.get().record_type == "Inbound"
    [(fired, kwargs)] = caught
    assert fired is signals.inbound_received
    message = kwargs["event"].message
    assert isinstance(message, EmailMultiAlternatives)
    assert message.subject == "Test subject"
    assert message.from_email == "Postmarkapp Support <support@postmarkapp.com>"
    assert message.to == ["Firstname Lastname <yourhash+SampleHash@inbound.postmarkapp.com>"]
    assert message.cc == ["First Cc <firstcc@postmarkapp.com>", "secondCc@postmarkapp.com"]
    assert message.reply_to == ["replyto@postmarkapp.com"]
    assert message.body == "This is a test text body."
    assert message.alternatives[0][1] == "text/html"
    assert [tuple(a)[:3] for a in message.attachments] == [
        ("test.txt", "This is attachment contents, base-64 encoded.", "text/plain"),
        ("pixel.gif", b"GIF89a", "image/gif"),
    ]
    assert message.extra_headers["X-Spam-Status"] == "No"
    message.message()  # renders as a real MIME message


def test_an_unknown_record_type_is_stored_and_acknowledged(client: Client, caught: list) -> None:
    response = post(client, {"RecordType": "Teleport", "MessageID": payloads.MESSAGE_ID})

    assert response.status_code == 200
    assert b"unknown RecordType" in response.content
    row = WebhookEvent.objects.get()
    assert (row.status, row.record_type) == (WebhookEvent.Status.IGNORED, "Teleport")
    assert caught == []


# --- default receivers --------------------------------------------------------------------------


def test_a_bounce_is_stored_with_every_field_and_linked_to_its_message(client: Client) -> None:
    message = sent_message()

    post(client, payloads.bounce())

    bounce = Bounce.objects.get()
    assert bounce.postmark_id == 4323372036854775807
    assert (bounce.type, bounce.type_code, bounce.name) == ("HardBounce", 1, "Hard bounce")
    assert (bounce.email, bounce.from_email, bounce.tag) == (
        "john@example.com",
        "sender@example.com",
        "Invitation",
    )
    assert bounce.bounced_at.isoformat() == "2026-11-27T14:11:12.123456+00:00"
    assert bounce.inactive and bounce.can_activate and bounce.dump_available
    assert (bounce.server_id, bounce.message_stream) == (23, "outbound")
    assert bounce.details == "Test bounce details" and bounce.content == "<Full dump of bounce>"
    assert bounce.metadata == {"a_key": "a_value", "b_key": "b_value"}
    assert bounce.message == message
    assert list(message.bounces.all()) == [bounce]
    assert list(message.webhook_events.all()) == [WebhookEvent.objects.get()]
    message.refresh_from_db()
    assert message.status == Message.Status.BOUNCED
    assert message.bounced_at == bounce.bounced_at


def test_a_bounce_for_a_message_never_logged_is_stored_all_the_same(client: Client) -> None:
    response = post(client, payloads.bounce(MessageID="00000000-0000-0000-0000-000000000001"))

    assert response.status_code == 200
    assert Bounce.objects.get().message_id is not None
    assert not Message.objects.exists()


def test_an_updated_bounce_rewrites_its_row(client: Client) -> None:
    post(client, payloads.bounce(Inactive=True))
    post(client, payloads.bounce(Inactive=False, CanActivate=False))

    bounce = Bounce.objects.get()
    assert not bounce.inactive and not bounce.can_activate
    assert WebhookEvent.objects.count() == 2


def test_a_message_moves_forward_through_its_lifecycle_only(client: Client) -> None:
    message = sent_message()

    post(client, payloads.open_())
    post(client, payloads.delivery())  # late: the message stays "opened"
    message.refresh_from_db()
    assert message.status == Message.Status.OPENED
    assert message.delivered_at.isoformat() == "2026-11-27T10:11:13.123456+00:00"
    assert message.opened_at.isoformat() == "2026-11-27T09:00:00.123456+00:00"

    post(client, payloads.click())
    post(client, payloads.open_(ReceivedAt="2026-11-28T11:00:00Z", FirstOpen=False))
    message.refresh_from_db()
    assert message.status == Message.Status.CLICKED
    assert message.opened_at.isoformat() == "2026-11-27T09:00:00.123456+00:00"  # the first

    post(client, payloads.spam_complaint())
    message.refresh_from_db()
    assert message.status == Message.Status.COMPLAINED
    assert message.complained_at is not None


def test_an_autoresponder_bounce_does_not_mark_the_message_bounced(client: Client) -> None:
    message = sent_message()

    post(client, payloads.bounce(Type="AutoResponder", TypeCode=64, Inactive=False))

    assert Bounce.objects.get().type == "AutoResponder"
    message.refresh_from_db()
    assert message.status == Message.Status.SENT


def test_a_spam_complaint_with_a_misleading_type_code_is_stored_as_a_complaint(
    client: Client,
) -> None:
    post(client, payloads.spam_complaint())

    bounce = Bounce.objects.get()
    assert (bounce.record_type, bounce.type, bounce.type_code) == (
        "SpamComplaint",
        "SpamComplaint",
        512,
    )
    suppression = Suppression.objects.get()
    assert suppression.reason == Suppression.Reason.SPAM_COMPLAINT


def test_a_default_receiver_turned_off_writes_nothing(client: Client, settings: Any) -> None:
    from postmark import receivers

    signals.bounce_received.disconnect(dispatch_uid="postmark.store_bounce")
    try:
        post(client, payloads.bounce())
    finally:
        signals.bounce_received.connect(
            receivers.store_bounce, dispatch_uid="postmark.store_bounce"
        )
    assert not Bounce.objects.exists()
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.PROCESSED


def test_a_receiver_after_the_defaults_sees_what_they_wrote(client: Client) -> None:
    message = sent_message()
    seen: list[Any] = []

    def reader(**kwargs: Any) -> None:
        seen.append(Bounce.objects.values_list("postmark_id", flat=True).first())
        seen.append(Suppression.objects.values_list("email", flat=True).first())
        seen.append(Message.objects.get(pk=message.pk).status)
        Message.objects.filter(pk=message.pk).update(subject="seen")  # a write of its own

    signals.bounce_received.connect(reader, weak=False)
    try:
        assert post(client, payloads.bounce()).status_code == 200
    finally:
        signals.bounce_received.disconnect(reader)

    assert seen == [4323372036854775807, "john@example.com", Message.Status.BOUNCED]
    message.refresh_from_db()
    assert (message.status, message.subject) == (Message.Status.BOUNCED, "seen")


@pytest.mark.parametrize(
    "committing",
    [
        False,
        # Outside a test transaction the webhook's own is the outermost: COMMIT, not a savepoint.
        pytest.param(True, marks=pytest.mark.django_db(transaction=True), id="committing"),
    ],
)
def test_a_receiver_that_swallows_a_database_error_still_fails_the_webhook(
    client: Client, committing: bool
) -> None:
    import contextlib

    from django.db import DatabaseError, connection

    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only: SQLite and MariaDB do not abort a transaction on an error")
    message = sent_message()

    def swallower(**kwargs: Any) -> None:
        with contextlib.suppress(DatabaseError), connection.cursor() as cursor:
            cursor.execute("SELECT 1 / 0")

    signals.bounce_received.connect(swallower, weak=False)
    try:
        response = post(client, payloads.bounce())
    finally:
        signals.bounce_received.disconnect(swallower)

    assert response.status_code == 500
    row = WebhookEvent.objects.get()
    assert row.status == WebhookEvent.Status.FAILED and "aborted the transaction" in row.error
    assert not Bounce.objects.exists() and not Suppression.objects.exists()
    message.refresh_from_db()
    assert message.status == Message.Status.SENT

    assert post(client, payloads.bounce()).status_code == 200  # Postmark's retry
    assert Bounce.objects.count() == 1


# --- failure, retry, replay ---------------------------------------------------------------------


@pytest.fixture
def broken_receiver() -> Iterator[list[int]]:
    with failing_receiver(signals.bounce_received, "the receiver is broken") as mended:
        yield mended


def test_a_failing_receiver_gets_a_500_rolls_back_and_keeps_the_error(
    client: Client, broken_receiver: list[int]
) -> None:
    message = sent_message()

    response = post(client, payloads.bounce())

    assert response.status_code == 500
    assert b"the receiver is broken" in response.content
    row = WebhookEvent.objects.get()
    assert row.status == WebhookEvent.Status.FAILED
    assert row.error == "RuntimeError: the receiver is broken"
    assert "Traceback" in row.traceback and "in receiver" in row.traceback
    assert json.loads(row.body) == payloads.bounce()
    # The default receivers ran before it; their writes are rolled back with it.
    assert not Bounce.objects.exists() and not Suppression.objects.exists()
    message.refresh_from_db()
    assert message.status == Message.Status.SENT


def test_postmarks_retry_of_a_failed_event_processes_it(
    client: Client, broken_receiver: list[int]
) -> None:
    assert post(client, payloads.bounce()).status_code == 500
    assert post(client, payloads.bounce()).status_code == 500
    assert WebhookEvent.objects.get().attempts == 2

    broken_receiver.append(1)
    response = post(client, payloads.bounce())

    assert response.status_code == 200 and response.content == b"processed\n"
    row = WebhookEvent.objects.get()
    assert (row.status, row.error, row.traceback, row.attempts) == ("processed", "", "", 3)
    assert Bounce.objects.count() == 1


def test_manage_py_postmark_replay_reprocesses_failed_events(
    client: Client, broken_receiver: list[int]
) -> None:
    from io import StringIO

    from django.core.management import call_command

    post(client, payloads.bounce())
    post(client, payloads.delivery())  # processed: left alone
    broken_receiver.append(1)
    out = StringIO()

    call_command("postmark_replay", stdout=out)

    assert "1 processed, 0 failed" in out.getvalue()
    assert set(WebhookEvent.objects.values_list("status", flat=True)) == {"processed"}
    assert Bounce.objects.count() == 1


def test_a_replay_that_fails_again_keeps_the_new_error(
    client: Client, broken_receiver: list[int]
) -> None:
    from io import StringIO

    from django.core.management import call_command

    post(client, payloads.bounce())
    out = StringIO()

    with pytest.raises(SystemExit):
        call_command("postmark_replay", stdout=out, stderr=out)

    row = WebhookEvent.objects.get()
    assert row.status == "failed" and row.attempts == 2
    assert "0 processed, 1 failed" in out.getvalue()


# --- HTTP: auth, methods, middleware ------------------------------------------------------------


@pytest.mark.parametrize(
    "auth",
    [
        None,
        "Basic " + base64.b64encode(b"hook-user:wrong").decode(),
        "Basic " + base64.b64encode(b"hook-user:hook-password ").decode(),
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
    new = "Basic " + base64.b64encode(b"postmark:new-secret").decode()

    assert post(client, payloads.bounce(), auth=new).status_code == 200
    assert post(client, payloads.delivery(), auth=AUTH).status_code == 200


def test_without_credentials_configured_every_request_is_accepted_and_a_check_warns(
    client: Client, settings: Any
) -> None:
    from postmark.checks import check_settings

    settings.POSTMARK_API_USER = settings.POSTMARK_API_PASSWORD = None

    assert post(client, payloads.bounce(), auth=None).status_code == 200
    assert [m.id for m in check_settings()] == ["postmark.W001"]


def test_with_credentials_configured_the_check_is_quiet() -> None:
    from postmark.checks import check_settings

    assert "postmark.W001" not in [m.id for m in check_settings()]


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
        (b"[" * 100000, b"invalid JSON"),
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
    from postmark import sql

    # PostgreSQL and SQLite get precompiled statements; any other database the ORM calls.
    monkeypatch.setattr(sql, "_COMPILED_VENDORS", frozenset())
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
    from postmark.checks import check_settings

    settings.POSTMARK_API_PASSWORD = ""

    assert "postmark.W001" in [m.id for m in check_settings()]


@pytest.mark.parametrize("value", [["user:pass"], [("user", "")], [("user", "p", "x")], "abc"])
def test_malformed_webhook_credentials_are_refused_naming_the_setting(value: Any) -> None:
    from django.core.exceptions import ImproperlyConfigured

    from postmark.conf import PostmarkConf

    with pytest.raises(ImproperlyConfigured, match="POSTMARK_WEBHOOK_CREDENTIALS"):
        PostmarkConf().configure_webhook_credentials(value)
