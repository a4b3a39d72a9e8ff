"""The ``Message`` log loses no row and raises nothing whatever a call's messages hold: address
pairs, NUL, a MessageID Postmark answered twice, a "delayed" answer."""

from __future__ import annotations

import uuid

import pytest
from django.core.mail import EmailMessage, get_connection
from django.test import override_settings
from hypothesis import given
from hypothesis import strategies as st

from postmark.models import Message
from postmark.storage.values import REPLACEMENT
from tests.support.fake_postmark import FakePostmark, Reply, serving
from tests.support.link_ids import own_metadata

pytestmark = pytest.mark.django_db

DELAYED = "Message accepted, but delivery may be delayed."


def test_a_delayed_answer_is_its_own_status_in_the_log_and_counts_as_sent(
    fake_postmark: FakePostmark,
) -> None:
    fake_postmark.script(Reply(200, {"MessageID": str(uuid.uuid4()), "Message": DELAYED}))
    assert EmailMessage("s", "b", "f@example.com", ["t@example.com"]).send() == 1
    row = Message.objects.get()
    assert (row.status, row.error) == ("delayed", DELAYED)
    assert row.get_status_display() == "delayed (accepted, delivery may be delayed)"


def test_name_and_address_pairs_in_to_and_cc_are_logged(fake_postmark: FakePostmark) -> None:
    message = EmailMessage(
        "s", "b", "f@example.com", [("Ann Example", "ann@example.com")], cc=[("B, C", "b@x.org")]
    )
    assert message.send() == 1
    row = Message.objects.get()
    assert (row.to, row.cc) == ("Ann Example <ann@example.com>", '"B, C" <b@x.org>')
    assert fake_postmark.sent_messages[0]["To"] == "Ann Example <ann@example.com>"


def test_one_messageid_answered_twice_in_a_batch_keeps_both_rows(
    fake_postmark: FakePostmark,
) -> None:
    same = str(uuid.uuid4())
    answer = {"MessageID": same, "ErrorCode": 0, "Message": "OK"}
    fake_postmark.script(Reply(200, [answer, answer, {**answer, "MessageID": str(uuid.uuid4())}]))
    messages = [EmailMessage(f"s{n}", "b", "f@example.com", [f"t{n}@x.org"]) for n in range(3)]
    assert get_connection().send_messages(messages) == 3
    rows = list(Message.objects.order_by("subject"))
    assert [row.subject for row in rows] == ["s0", "s1", "s2"]
    assert str(rows[0].message_id) == same and rows[1].message_id is None
    assert same in rows[1].error and rows[2].message_id is not None


nul_text = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=8).map(
    lambda t: f"{t}\x00{t}"
)


@given(subject=nul_text, body=nul_text, name=nul_text, value=nul_text, key=nul_text)
def test_nul_anywhere_in_a_message_is_logged_as_the_replacement_character(
    subject: str, body: str, name: str, value: str, key: str
) -> None:
    # PostgreSQL refuses NUL in text and JSON: storage writes U+FFFD on every database. The
    # subject and the name make the message refused (fail_silently): it is logged all the same.
    Message.objects.all().delete()
    refused = EmailMessage(subject, body, "f@example.com", [(name, "a@example.com")])
    sent = EmailMessage("fine", body, "f@example.com", ["b@example.com"])
    for message in (refused, sent):
        message.metadata = {key: value}  # type: ignore[attr-defined]
    with serving() as fake, override_settings(POSTMARK_STORE_BODIES=True):
        get_connection(api_url=fake.url, fail_silently=True).send_messages([refused, sent])
    assert refused.postmark.status == "failed"  # type: ignore[attr-defined]
    assert sent.postmark.status == "sent"  # type: ignore[attr-defined]
    rows = {row.to.split("<")[-1].rstrip(">"): row for row in Message.objects.all()}
    assert len(rows) == 2
    cleaned = {key.replace("\x00", REPLACEMENT): value.replace("\x00", REPLACEMENT)}
    for row in rows.values():
        assert row.text_body == body.replace("\x00", REPLACEMENT)
    # Only the message sent carries a generated id: the refused one went nowhere to be found.
    assert own_metadata(rows["b@example.com"].metadata) == cleaned
    refused_row = rows["a@example.com"]
    assert refused_row.metadata == cleaned and refused_row.link_id is None
    assert refused_row.subject == subject.replace("\x00", REPLACEMENT)
    assert refused_row.to == f"{name} <a@example.com>".replace("\x00", REPLACEMENT)
