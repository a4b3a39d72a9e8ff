"""postmark.events: every payload kind to its typed event, tolerant of real payloads."""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from postmark import events
from postmark.events import InvalidPayload, parse
from tests.support import webhook_payloads as payloads


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-27T10:11:12.1234567-04:00", datetime(2026, 11, 27, 14, 11, 12, 123456, UTC)),
        ("2026-11-27T10:11:12.1234567Z", datetime(2026, 11, 27, 10, 11, 12, 123456, UTC)),
        ("2026-11-27T10:11:12Z", datetime(2026, 11, 27, 10, 11, 12, tzinfo=UTC)),
        ("2026-11-27T10:11:12+05:30", datetime(2026, 11, 27, 4, 41, 12, tzinfo=UTC)),
        ("2026-11-27T10:11:12.5", datetime(2026, 11, 27, 10, 11, 12, 500000, UTC)),  # naive: UTC
        ("0001-01-01T00:00:00+05:00", None),  # before year 1 in UTC
        ("yesterday", None),
        ("", None),
        (12345, None),
    ],
)
def test_timestamps_in_every_form_postmark_sends_are_aware_utc(
    text: object, expected: datetime | None
) -> None:
    event = parse(payloads.delivery(DeliveredAt=text))

    assert isinstance(event, events.DeliveryEvent)
    assert event.delivered_at == expected
    if expected is not None:
        assert event.delivered_at.utcoffset() == timedelta(0)


def test_a_bounce_becomes_a_bounce_event_with_every_field() -> None:
    event = parse(payloads.bounce())

    assert event == events.BounceEvent(
        record_type="Bounce",
        message_id=uuid.UUID(payloads.MESSAGE_ID),
        message_stream="outbound",
        server_id=23,
        tag="Invitation",
        metadata={"a_key": "a_value", "b_key": "b_value"},
        id=4323372036854775807,
        type="HardBounce",
        type_code=1,
        name="Hard bounce",
        description=payloads.bounce()["Description"],
        details="Test bounce details",
        email="john@example.com",
        from_email="sender@example.com",
        bounced_at=datetime(2026, 11, 27, 10, 11, 12, 123456, timezone(timedelta(hours=-4))),
        dump_available=True,
        inactive=True,
        can_activate=True,
        subject="Test subject",
        content="<Full dump of bounce>",
    )
    assert event.failed_delivery and event.bounce_type == events.BOUNCE_TYPES["HardBounce"]


@pytest.mark.parametrize(
    ("payload", "event_type"),
    [
        (payloads.spam_complaint(), events.SpamComplaintEvent),
        (payloads.spam_complaint(TypeCode=100001), events.SpamComplaintEvent),
        # Routed on Type, never on TypeCode: a Bounce of Type SpamComplaint is a complaint...
        (payloads.bounce(Type="SpamComplaint", TypeCode=512), events.SpamComplaintEvent),
        # ...and a TypeCode that says complaint does not make a hard bounce one.
        (payloads.bounce(TypeCode=100001), events.BounceEvent),
        (payloads.delivery(), events.DeliveryEvent),
        (payloads.open_(), events.OpenEvent),
        (payloads.click(), events.ClickEvent),
        (payloads.subscription_change(), events.SubscriptionChangeEvent),
        ({"RecordType": "Teleport"}, events.UnknownEvent),
    ],
)
def test_routing_is_on_record_type_and_type(payload: dict, event_type: type) -> None:
    assert type(parse(payload)) is event_type


def test_server_id_is_read_in_either_spelling() -> None:
    assert parse(payloads.delivery()).server_id == 23  # "ServerId"
    assert parse(payloads.bounce(ServerID="7")).server_id == 7


@pytest.mark.parametrize("tag", ["", None, 17, ["a"]])
def test_an_empty_missing_or_odd_tag_reads_as_empty(tag: object) -> None:
    payload = payloads.open_()
    if tag is None:
        del payload["Tag"]
    else:
        payload["Tag"] = tag

    assert parse(payload).tag == ("17" if tag == 17 else "")


def test_fields_of_the_wrong_type_read_as_missing() -> None:
    event = parse(
        payloads.bounce(
            Metadata=["x"],
            Inactive="true",
            CanActivate=1,
            TypeCode=True,
            ServerID=2**70,
            Email=None,
            Details={"a": 1},
        )
    )

    assert event.metadata == {} and event.inactive and not event.can_activate
    assert event.type_code is None and event.server_id is None
    assert event.email == "" and event.details == ""


def test_text_a_database_would_refuse_is_cleaned() -> None:
    event = parse(payloads.bounce(Details="a\x00b", Subject="\ud800x", Metadata={"k\x00": "v\x00"}))

    assert event.details == "a\ufffdb" and event.subject == "\ufffdx"
    assert event.metadata == {"k\ufffd": "v\ufffd"}


def test_an_open_carries_client_os_and_geo() -> None:
    event = parse(payloads.open_())

    assert isinstance(event, events.OpenEvent)
    assert event.first_open and event.read_seconds == 5
    assert event.client == events.Agent("Chrome 35.0.1916.153", "Google", "Chrome")
    assert event.os.family == "OS X 10"
    assert event.geo.city == "Novi Sad" and event.geo.ip == "188.2.95.4"
    assert event.received_at == datetime(2026, 11, 27, 9, 0, 0, 123456, UTC)


def test_a_click_carries_its_link() -> None:
    event = parse(payloads.click())

    assert isinstance(event, events.ClickEvent)
    assert (event.click_location, event.original_link) == ("HTML", "https://example.com")


def test_a_subscription_change_carries_what_changed() -> None:
    event = parse(payloads.subscription_change(SuppressSending=False, SuppressionReason=None))

    assert isinstance(event, events.SubscriptionChangeEvent)
    assert (event.recipient, event.origin, event.suppress_sending) == (
        "Jane@Example.com",
        "Recipient",
        False,
    )
    assert event.suppression_reason == ""


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (payloads.bounce(ID="1.5"), "Bounce without a numeric ID"),
        (payloads.bounce(ID=2**64), "Bounce without a numeric ID"),
        (payloads.click(MessageID=42), "Click without a valid MessageID"),
        ({"Subject": "hi"}, "no RecordType"),
    ],
)
def test_what_cannot_be_an_event_raises_invalid_payload(payload: dict, message: str) -> None:
    with pytest.raises(InvalidPayload, match=message):
        parse(payload)


def test_inbound_mail_without_record_type_is_read_on_the_inbound_endpoint() -> None:
    event = parse(payloads.inbound(), inbound=True)

    assert isinstance(event, events.InboundEvent)
    assert event.from_full == events.Address("support@postmarkapp.com", "Postmarkapp Support", "")
    assert [a.mailbox_hash for a in event.to_full] == ["SampleHash"]
    assert event.headers[1] == ("X-Spam-Status", "No")
    [attachment] = event.attachments
    assert attachment.content == b"This is attachment contents, base-64 encoded."


def test_inbound_recipients_fall_back_to_the_plain_fields() -> None:
    event = parse(
        payloads.inbound(ToFull=None, To="a@example.com, B <b@example.com>", CcFull=[], Cc=""),
        inbound=True,
    )

    assert event.message.to == ["a@example.com", "B <b@example.com>"]
    assert event.message.cc == []


def test_inbound_attachments_sent_as_data_and_without_padding_are_decoded() -> None:
    event = parse(
        payloads.inbound(
            Attachments=[{"Name": "a.bin", "Data": "AAEC"}, {"Name": "b.bin", "Content": "AAE"}]
        ),
        inbound=True,
    )

    assert [a.content for a in event.attachments] == [b"\x00\x01\x02", b"\x00\x01"]
    assert event.attachments[0].content_type == "application/octet-stream"


@given(st.binary(max_size=200), st.sampled_from(["", "\n", "\r\n", " "]), st.booleans())
def test_an_attachment_s_size_is_known_before_it_is_decoded_and_is_its_decoded_size(
    data: bytes, line_break: str, padded: bool
) -> None:
    encoded = base64.b64encode(data).decode()
    encoded = encoded if padded else encoded.rstrip("=")
    lines = [encoded[start : start + 76] for start in range(0, len(encoded), 76)]
    payload = payloads.inbound(Attachments=[{"Name": "a.bin", "Content": line_break.join(lines)}])

    [attachment] = parse(payload, inbound=True).attachments

    assert attachment.size == len(data)
    assert attachment.content == data


@given(st.text(alphabet="AQgw+/=\n !\u00e9", max_size=24))
def test_an_attachment_is_taken_exactly_when_its_content_is_base64(encoded: str) -> None:
    # Base64 as a lenient reader takes it: whitespace anywhere, the padding optional.
    compact = "".join(encoded.split())
    try:
        expected = base64.b64decode(compact + "=" * (-len(compact) % 4), validate=True)
    except (binascii.Error, ValueError):
        expected = None
    payload = payloads.inbound(Attachments=[{"Name": "a.bin", "Content": encoded}])

    if encoded and not expected:
        with pytest.raises(InvalidPayload, match="is not base64"):
            parse(payload, inbound=True)
    else:
        [attachment] = parse(payload, inbound=True).attachments
        assert (attachment.content, attachment.size) == (expected or b"", len(expected or b""))


def test_a_header_with_a_line_break_does_not_break_the_django_message() -> None:
    event = parse(
        payloads.inbound(Headers=[{"Name": "X-Folded", "Value": "a\r\n b"}], Subject="Multi\nline"),
        inbound=True,
    )

    assert event.message.extra_headers["X-Folded"] == "a b"
    assert event.message.message()["Subject"] == "Multi line"


def test_the_bounce_type_table_lists_what_is_a_failed_delivery() -> None:
    assert events.BOUNCE_TYPES["SoftBounce"].code == 4096
    assert not events.BOUNCE_TYPES["AutoResponder"].failed_delivery
    assert parse(payloads.bounce(Type="SomethingNew")).failed_delivery
