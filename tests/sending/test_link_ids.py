"""Every message is findable: each one carries an id generated for it in its Metadata
(POSTMARK_LINK_FIELD), kept as its log row's ``link_id``, for every way a message goes (one, a
batch, a template, a merge_data copy, a Bulk API recipient; the queued ones in
tests/queue/test_settling.py);
a caller's own metadata is never overwritten, and Postmark's metadata limits are refused before
any request."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.mail import EmailMessage, get_connection
from hypothesis import given
from hypothesis import strategies as st

from postmark.conf import PostmarkConf
from postmark.exceptions import UnsupportedMessageError
from postmark.message import PostmarkEmailMessage
from postmark.models import Message
from postmark.sending.recipients import LINK_KEY
from tests.support.fake_postmark import FakePostmark, Reply, serving

pytestmark = pytest.mark.django_db


def link_of(payload: dict[str, Any], key: str = LINK_KEY) -> uuid.UUID:
    return uuid.UUID(payload["Metadata"][key])


def test_each_message_of_a_batch_carries_its_own_id_and_its_row_keeps_it(
    fake_postmark: FakePostmark,
) -> None:
    batch = [EmailMessage("s", "b", "f@example.com", [f"u{n}@example.com"]) for n in range(3)]
    assert get_connection().send_messages(batch) == 3
    ids = [link_of(payload) for payload in fake_postmark.sent_messages]
    assert len(set(ids)) == 3
    rows = {row.to: row for row in Message.objects.all()}
    assert [rows[f"u{n}@example.com"].link_id for n in range(3)] == ids
    assert all(row.metadata[LINK_KEY] == str(row.link_id) for row in rows.values())


def test_the_same_message_sent_twice_is_two_messages_with_two_ids(
    fake_postmark: FakePostmark,
) -> None:
    message = EmailMessage("s", "b", "f@example.com", ["ann@example.com"])
    message.send()
    message.send()
    first, second = fake_postmark.sent_messages
    assert link_of(first) != link_of(second)
    assert Message.objects.count() == 2


def test_a_template_message_and_each_merge_data_copy_carry_their_own_id(
    fake_postmark: FakePostmark,
) -> None:
    message = PostmarkEmailMessage(
        from_email="f@example.com",
        to=["ann@example.com", "bob@example.com"],
        template_alias="welcome",
        merge_data={},
        metadata={"campaign": "dec"},
    )
    message.send()
    copies = fake_postmark.sent_messages
    assert {copy["Metadata"]["campaign"] for copy in copies} == {"dec"}
    ids = {link_of(copy) for copy in copies}
    assert len(ids) == 2
    assert set(Message.objects.values_list("link_id", flat=True)) == ids


def test_each_bulk_api_recipient_carries_its_own_id_and_the_shared_content_none(
    fake_postmark: FakePostmark,
) -> None:
    fake_postmark.script(Reply(200, {"ID": "b1", "Status": "Accepted"}))
    PostmarkEmailMessage(
        "Hi", "Hi", "f@example.com", ["ann@example.com", "bob@example.com"], bulk=True
    ).send()
    [request] = fake_postmark.requests
    assert LINK_KEY not in (request.body.get("Metadata") or {})
    ids = {link_of(entry) for entry in request.body["Messages"]}
    assert set(Message.objects.values_list("link_id", flat=True)) == ids and len(ids) == 2


def test_the_field_can_be_named_by_a_setting(fake_postmark: FakePostmark, settings: Any) -> None:
    settings.POSTMARK_LINK_FIELD = "our-id"
    EmailMessage("s", "b", "f@example.com", ["ann@example.com"]).send()
    [sent] = fake_postmark.sent_messages
    assert link_of(sent, "our-id") == Message.objects.get().link_id
    assert LINK_KEY not in sent["Metadata"]


@pytest.mark.parametrize("name", [LINK_KEY, LINK_KEY.upper(), "Django-Postmark-Id"])
def test_a_callers_field_of_that_name_is_refused_never_overwritten(
    fake_postmark: FakePostmark, name: str
) -> None:
    message = EmailMessage("s", "b", "f@example.com", ["ann@example.com"])
    message.metadata = {name: "mine"}  # type: ignore[attr-defined]
    with pytest.raises(UnsupportedMessageError, match="POSTMARK_LINK_FIELD") as refused:
        message.send()
    assert refused.value.field == "metadata"
    assert fake_postmark.requests == []


def test_a_default_field_of_that_name_is_refused_too(
    fake_postmark: FakePostmark, settings: Any
) -> None:
    settings.POSTMARK_METADATA = {LINK_KEY: "site"}
    with pytest.raises(UnsupportedMessageError, match="POSTMARK_LINK_FIELD"):
        EmailMessage("s", "b", "f@example.com", ["ann@example.com"]).send()
    assert fake_postmark.requests == []


def test_a_bulk_recipients_field_of_that_name_is_refused(fake_postmark: FakePostmark) -> None:
    message = PostmarkEmailMessage(
        "Hi", "Hi", "f@example.com", ["ann@example.com"], bulk=True,
        merge_metadata={"ann@example.com": {LINK_KEY: "mine"}},
    )  # fmt: skip
    with pytest.raises(UnsupportedMessageError, match="POSTMARK_LINK_FIELD"):
        message.send()
    assert fake_postmark.requests == []


def test_with_fail_silently_only_the_clashing_message_fails(fake_postmark: FakePostmark) -> None:
    clashing = EmailMessage("s", "b", "f@example.com", ["ann@example.com"])
    clashing.metadata = {LINK_KEY: "mine"}  # type: ignore[attr-defined]
    fine = EmailMessage("s", "b", "f@example.com", ["bob@example.com"])
    assert get_connection(fail_silently=True).send_messages([clashing, fine]) == 1
    assert clashing.postmark.status == "failed"  # type: ignore[attr-defined]
    assert [sent["To"] for sent in fake_postmark.sent_messages] == ["bob@example.com"]


def test_nine_fields_of_the_callers_own_go_and_ten_are_refused(
    fake_postmark: FakePostmark,
) -> None:
    nine = EmailMessage("s", "b", "f@example.com", ["ann@example.com"])
    nine.metadata = {f"k{n}": "v" for n in range(9)}  # type: ignore[attr-defined]
    assert nine.send() == 1
    assert len(fake_postmark.sent_messages[0]["Metadata"]) == 10
    ten = EmailMessage("s", "b", "f@example.com", ["ann@example.com"])
    ten.metadata = {f"k{n}": "v" for n in range(10)}  # type: ignore[attr-defined]
    with pytest.raises(UnsupportedMessageError, match="at most 9 of your own"):
        ten.send()


@given(
    name=st.text(st.characters(codec="utf-8"), min_size=1, max_size=30),
    value=st.text(st.characters(codec="utf-8"), max_size=100),
)
def test_a_field_longer_than_postmark_takes_is_refused_before_any_request(
    name: str, value: str
) -> None:
    message = EmailMessage("s", "b", "f@example.com", ["ann@example.com"])
    message.metadata = {name: value}  # type: ignore[attr-defined]
    too_long = len(name) > 20 or len(value) > 80
    clash = name.lower() == LINK_KEY
    with serving() as fake:
        connection = get_connection(api_url=fake.url, fail_silently=True)
        assert connection.send_messages([message]) == int(not (too_long or clash))
    assert bool(fake.requests) == (not (too_long or clash))
    if too_long:
        assert "metadata names of at most 20" in message.postmark.message  # type: ignore[attr-defined]


@pytest.mark.parametrize("value", ["", "a" * 21, "has space", "dot.ted", None, 7, "ümlaut"])
def test_the_setting_must_be_a_metadata_name_postmark_takes(value: Any) -> None:
    with pytest.raises(ImproperlyConfigured, match="POSTMARK_LINK_FIELD"):
        PostmarkConf().configure_link_field(value)


def test_the_default_name_is_one_postmark_takes() -> None:
    assert PostmarkConf().configure_link_field(LINK_KEY) == LINK_KEY
    assert len(LINK_KEY) <= 20
