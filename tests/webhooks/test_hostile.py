"""Hostile input through the real view: every class of issue 9 (items 1-5, 7) answered with a 4xx
and a short reason or processed, never a 500, never a failure that every replay repeats."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from hypothesis import given
from hypothesis import strategies as st

from postmark import events, signals
from postmark.models import Bounce, WebhookEvent
from postmark.webhooks import replay
from tests.support import webhook_payloads as payloads
from tests.support.webhook_helpers import BOUNCE_URL, INBOUND_URL, failing_receiver, post

pytestmark = pytest.mark.django_db


def nested(levels: int, leaf: Any = "x") -> Any:
    value = leaf
    for _ in range(levels):
        value = {"k": value}
    return value


# --- 1. depth inside fields ------------------------------------------------------------------


@pytest.mark.parametrize("field", ["Metadata", "Geo", "Client", "Details"])
def test_a_field_nested_hundreds_of_levels_deep_gets_400_and_stores_nothing(
    client: Client, field: str
) -> None:
    payload = payloads.open_() if field in ("Geo", "Client") else payloads.bounce()
    payload[field] = nested(600)

    response = post(client, payload)

    assert (response.status_code, response.content) == (
        400,
        f"JSON nested deeper than {events.MAX_DEPTH} levels\n".encode(),
    )
    assert not WebhookEvent.objects.exists()


def test_nesting_up_to_the_limit_is_processed(client: Client) -> None:
    # The object itself is level 1, so Metadata may nest MAX_DEPTH - 1 levels.
    payload = payloads.bounce(Metadata=nested(events.MAX_DEPTH - 2))

    assert post(client, payload).status_code == 200
    assert Bounce.objects.get().metadata == payload["Metadata"]


#: What looks like structure inside strings: brackets, quotes, colons, runs of backslashes, and
#: numbers' characters, each written by json.dumps as JSON escapes them (long enough that a
#: list of them is not too dense to be taken).
lookalikes = st.text(alphabet='[]{}":,\\e1+ \u0100', min_size=8, max_size=16)


@given(st.integers(events.MAX_DEPTH - 3, events.MAX_DEPTH + 3), lookalikes, st.integers(0, 400))
def test_the_depth_limit_holds_wherever_a_long_body_is_cut_to_be_read(
    levels: int, text: str, shift: int
) -> None:
    value: Any = text
    for _ in range(levels - 2):  # the body's object and "items" are the first two levels
        value = [text, value]
    copies = 40_000 // len(json.dumps(value)) + 1  # a long body: it is read a part at a time
    payload = {"pad": "p" * shift, "items": [value] * copies}

    if levels > events.MAX_DEPTH:
        with pytest.raises(events.InvalidPayload, match="nested deeper"):
            events.load(json.dumps(payload), inbound=True)
    else:
        assert events.load(json.dumps(payload), inbound=True) == payload


# --- 2. non-finite numbers ---------------------------------------------------------------------


@pytest.mark.parametrize("number", ["1e999", "-1e999", "1E400"])
def test_a_number_too_large_for_a_float_gets_400_and_stores_nothing(
    client: Client, number: str
) -> None:
    body = json.dumps(payloads.bounce(Metadata={"x": 0})).replace('"x": 0', f'"x": {number}')

    response = post(client, body)

    assert response.status_code == 400
    assert response.content == f"invalid JSON: number out of range: {number}\n".encode()
    assert not WebhookEvent.objects.exists()


def test_a_stored_body_with_a_non_finite_number_is_rejected_on_replay_not_failed_again() -> None:
    body = json.dumps(payloads.bounce()).replace('"ServerID": 23', '"ServerID": 1e999')
    row = WebhookEvent.objects.create(  # as an older version stored it
        body_sha256="0" * 64, body=body, status="failed", received_at="2026-11-27T10:00:00Z"
    )

    outcome = replay(row.pk)

    row.refresh_from_db()
    assert outcome.http_status == 400 and row.status == WebhookEvent.Status.REJECTED
    assert row.error == "invalid JSON: number out of range: 1e999"
    call_command("postmark_replay")  # failed ones only: it is no longer among them


# --- 3. integers -------------------------------------------------------------------------------

# Strings str.isdigit() accepts but int() refuses or reads differently: superscripts, other
# scripts' digits; and sign games int() refuses.
unusual_digits = st.text(st.characters(categories=["Nd", "No"]), min_size=1, max_size=8).filter(
    lambda s: not s.isascii()
)
sign_games = st.sampled_from(["--1", "+-1", "-+1", "++1", "1-", "- 1", "0x10", "1_000", " "])


@given(value=st.one_of(unusual_digits, sign_games))
def test_an_id_that_is_not_ascii_digits_is_refused_as_not_numeric(value: str) -> None:
    with pytest.raises(events.InvalidPayload, match="Bounce without a numeric ID"):
        events.parse(payloads.bounce(ID=value))


@given(value=st.one_of(unusual_digits, sign_games))
def test_optional_integers_that_are_not_ascii_digits_read_as_missing(value: str) -> None:
    bounce = events.parse(payloads.bounce(ServerID=value, TypeCode=value))
    opened = events.parse(payloads.open_(ReadSeconds=value, ServerId=value))

    assert isinstance(bounce, events.BounceEvent) and isinstance(opened, events.OpenEvent)
    assert (bounce.server_id, bounce.type_code, opened.read_seconds) == (None, None, None)


@given(number=st.integers(min_value=-(2**63), max_value=2**63 - 1))
def test_integers_in_64_bits_read_as_numbers_or_ascii_digits(number: int) -> None:
    for value in (number, str(number), f" {number} "):
        event = events.parse(payloads.bounce(ID=value))
        assert isinstance(event, events.BounceEvent) and event.id == number


# --- 4. inbound mail as a Django message -------------------------------------------------------


def rendered(payload: dict[str, Any]) -> bytes:
    event = events.parse(payload, inbound=True)
    assert isinstance(event, events.InboundEvent)
    return event.message.message().as_bytes()


def test_an_international_address_with_a_display_name_builds_the_message() -> None:
    payload = payloads.inbound(
        FromFull={"Email": "jöhn@exämple.com", "Name": "Jöhn Dœ", "MailboxHash": ""},
        ToFull=[{"Email": "ünïcode@例え.jp", "Name": 'Ü, "quoted"', "MailboxHash": ""}],
    )

    assert b"From:" in rendered(payload)


@pytest.mark.parametrize("content_type", ["text", "", "image/", "/x", "a/b/c", "té/xt"])
def test_an_attachment_content_type_without_a_subtype_is_sent_as_octet_stream(
    content_type: str,
) -> None:
    attachment = {"Name": "a.bin", "Content": "AAEC", "ContentType": content_type}

    assert b"application/octet-stream" in rendered(
        payload=payloads.inbound(Attachments=[attachment])
    )


def test_line_breaks_in_an_attachment_filename_do_not_break_the_message() -> None:
    attachment = {"Name": "evil\r\nBcc: x@example.com.txt", "Content": "AAEC"}

    raw = rendered(payloads.inbound(Attachments=[attachment]))

    assert b"\nBcc:" not in raw and b"evil Bcc" in raw.replace(b"\r\n ", b" ")


RAW = (
    "From: =?utf-8?q?J=C3=B6hn?= <john@example.com>\r\n"
    "To: Support <support@example.com>\r\n"
    "Subject: From the raw copy\r\n"
    "X-Original: kept\r\n"
    "MIME-Version: 1.0\r\n"
    'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
    "--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nRaw text body\r\n"
    "--b\r\nContent-Type: application/pdf\r\n"
    'Content-Disposition: attachment; filename="r.pdf"\r\n'
    "Content-Transfer-Encoding: base64\r\n\r\nJVBERg==\r\n--b--\r\n"
)


def test_raw_email_when_present_is_the_message_postmark_received() -> None:
    event = events.parse(payloads.inbound(RawEmail=RAW), inbound=True)

    assert isinstance(event, events.InboundEvent)
    message = event.message
    assert (message.subject, message.body.strip()) == ("From the raw copy", "Raw text body")
    assert message.from_email == "Jöhn <john@example.com>"
    # The raw header's addresses, then those of the JSON's ToFull that it lacks.
    assert message.to == [
        "Support <support@example.com>",
        "Firstname Lastname <yourhash+SampleHash@inbound.postmarkapp.com>",
    ]
    assert message.extra_headers["X-Original"] == "kept"
    assert message.attachments[0][:3] == ("r.pdf", b"%PDF", "application/pdf")
    message.message().as_bytes()


@pytest.mark.parametrize("raw", ["", "not a message at all", "\r\n\r\nbody only", "From:"])
def test_unusable_raw_email_falls_back_to_the_json_fields(raw: str) -> None:
    event = events.parse(payloads.inbound(RawEmail=raw), inbound=True)

    assert isinstance(event, events.InboundEvent)
    assert event.message.subject == "Test subject"


def test_a_receiver_reading_a_hostile_inbound_message_processes_the_event(client: Client) -> None:
    def reader(event: Any, **kwargs: Any) -> None:
        event.message.message().as_bytes()

    signals.inbound_received.connect(reader, weak=False)
    try:
        payload = payloads.inbound(
            FromFull={"Email": "é@é.fr", "Name": "É"},
            Attachments=[{"Name": "a\nb", "Content": "AAEC", "ContentType": "weird"}],
        )
        response = post(client, payload, INBOUND_URL)
    finally:
        signals.inbound_received.disconnect(reader)

    assert response.status_code == 200, response.content
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.PROCESSED


# --- 5. what a 500 tells the caller ------------------------------------------------------------


def test_a_receiver_failure_answers_a_fixed_reason_and_keeps_the_detail_on_the_row(
    client: Client,
) -> None:
    detail = 'duplicate key value violates unique constraint "x" DETAIL: SELECT secret FROM t'
    with failing_receiver(signals.bounce_received, detail):
        response = post(client, payloads.bounce(), BOUNCE_URL)

    assert response.status_code == 500
    assert response.content == b"a receiver failed; the error is kept on the stored event\n"
    assert WebhookEvent.objects.get().error == f"RuntimeError: {detail}"
