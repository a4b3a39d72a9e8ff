"""``merge_data``: one template message with N To recipients is N messages, each with its own
TemplateModel (over the shared one), sent in batches of 500, each with its own result and row."""

from __future__ import annotations

import importlib.util
from typing import Any

import pytest
from django.core.mail import get_connection
from hypothesis import given
from hypothesis import strategies as st

from postmark.exceptions import InactiveRecipientsError, UnsupportedMessageError
from postmark.message import PostmarkEmailMessage
from postmark.models import Message, Suppression
from tests.support.fake_postmark import FakePostmark, Reply, accepted, serving
from tests.support.link_ids import own_metadata

pytestmark = pytest.mark.django_db

# Django 6 ships the Tasks framework; on Django 5.2 the django-tasks backport provides it.
IMMEDIATE = (
    f"{'django.tasks' if importlib.util.find_spec('django.tasks') else 'django_tasks'}"
    ".backends.immediate.ImmediateBackend"
)


def template(to: list[str], **options: Any) -> PostmarkEmailMessage:
    return PostmarkEmailMessage(
        from_email="shop@example.com",
        to=to,
        template_alias="welcome",
        template_model={"shop": "Acme", "name": "friend"},
        **options,
    )


def results(message: Any) -> list[Any]:
    return [one.postmark for one in message.postmark_messages]


def test_each_recipient_gets_their_own_message_and_model(fake_postmark: FakePostmark) -> None:
    message = template(
        ["ann@example.com", "Bob <bob@example.com>", "cy@example.com"],
        merge_data={"ann@example.com": {"name": "Ann"}, "BOB@example.com": {"name": "Bob"}},
    )
    assert message.send() == 1
    [request] = fake_postmark.requests
    assert request.path == "/email/batchWithTemplates"
    sent = request.body["Messages"]
    assert [(m["To"], m["TemplateModel"]) for m in sent] == [
        ("ann@example.com", {"shop": "Acme", "name": "Ann"}),
        ("Bob <bob@example.com>", {"shop": "Acme", "name": "Bob"}),
        ("cy@example.com", {"shop": "Acme", "name": "friend"}),
    ]
    assert message.postmark.status == "sent"  # type: ignore[attr-defined]
    assert [r.status for r in results(message)] == ["sent"] * 3
    ids = {r.message_id for r in results(message)}
    assert len(ids) == 3
    rows = Message.objects.all()
    assert sorted(row.to for row in rows) == [
        "Bob <bob@example.com>",
        "ann@example.com",
        "cy@example.com",
    ]
    assert {str(row.message_id) for row in rows} == ids


def test_1200_recipients_go_in_batches_of_500(fake_postmark: FakePostmark) -> None:
    to = [f"reader{n}@example.com" for n in range(1200)]
    message = template(to, merge_data={address: {"n": i} for i, address in enumerate(to)})
    assert message.send() == 1
    # The three calls go at once (POSTMARK_MAX_CONCURRENT_CALLS), so in any order.
    assert sorted(len(r.body["Messages"]) for r in fake_postmark.requests) == [200, 500, 500]
    models = [m["TemplateModel"]["n"] for r in fake_postmark.requests for m in r.body["Messages"]]
    assert sorted(models) == list(range(1200))
    assert Message.objects.count() == 1200


@given(
    shared=st.dictionaries(st.sampled_from("abcd"), st.integers(), max_size=4),
    own=st.lists(st.dictionaries(st.sampled_from("cdef"), st.text(max_size=5), max_size=4)),
)
def test_every_model_is_the_recipients_own_over_the_shared_one(
    shared: dict[str, int], own: list[dict[str, str]]
) -> None:
    to = [f"r{n}@example.com" for n in range(len(own))] or ["only@example.com"]
    message = PostmarkEmailMessage(
        to=to,
        template_id=7,
        template_model=shared,
        merge_data=dict(zip(to, own, strict=False)),
    )
    with serving() as fake:
        assert get_connection(api_url=fake.url).send_messages([message]) == 1
    sent = fake.sent_messages
    assert [m["TemplateModel"] for m in sent] == [
        {**shared, **(own[n] if n < len(own) else {})} for n in range(len(to))
    ]


def test_data_keyed_by_the_bare_address_reaches_a_recipient_given_as_a_pair(
    fake_postmark: FakePostmark,
) -> None:
    message = template(
        [("Ann", "Ann@Example.com")],  # type: ignore[list-item]
        merge_data={"ann@example.com": {"name": "Ann"}},
        merge_metadata={"ANN@example.com": {"user": 1}},
    )
    message.send()
    [sent] = fake_postmark.sent_messages
    assert sent["TemplateModel"] == {"shop": "Acme", "name": "Ann"}
    assert own_metadata(sent["Metadata"]) == {"user": "1"}


def test_merge_metadata_and_headers_are_per_recipient(fake_postmark: FakePostmark) -> None:
    message = template(
        ["a@example.com", "b@example.com"],
        merge_data={},
        metadata={"campaign": "nov"},
        merge_metadata={"a@example.com": {"user": 1}},
        merge_headers={"b@example.com": {"X-Reader": "b"}},
    )
    message.send()
    first, second = fake_postmark.sent_messages
    assert own_metadata(first["Metadata"]) == {"campaign": "nov", "user": "1"}
    assert "Headers" not in first
    assert own_metadata(second["Metadata"]) == {"campaign": "nov"}
    # Each recipient's message is a message of its own, found by an id of its own.
    assert first["Metadata"] != second["Metadata"]
    assert second["Headers"] == [{"Name": "X-Reader", "Value": "b"}]


def test_one_refused_recipient_fails_only_their_own_result(fake_postmark: FakePostmark) -> None:
    def one_inactive(received: Any) -> Reply:
        answers = [accepted(m) for m in received.body["Messages"]]
        answers[1] = {"ErrorCode": 406, "Message": "Found inactive addresses: b@example.com."}
        return Reply(200, answers)

    fake_postmark.script(one_inactive)
    message = template(["a@example.com", "b@example.com", "c@example.com"], merge_data={})
    assert get_connection(fail_silently=True).send_messages([message]) == 0
    assert [r.status for r in results(message)] == ["sent", "failed", "sent"]
    assert message.postmark.status == "failed"  # type: ignore[attr-defined]
    assert message.postmark.message.startswith("2 of 3")  # type: ignore[attr-defined]
    assert isinstance(message.postmark.error, InactiveRecipientsError)  # type: ignore[attr-defined]
    assert Message.objects.filter(status="sent").count() == 2


def test_a_suppressed_recipient_is_left_out_and_the_others_are_sent(
    fake_postmark: FakePostmark,
) -> None:
    Suppression.objects.create(email="b@example.com", suppressed_at="2026-01-01T00:00:00Z")
    message = template(["a@example.com", "b@example.com"], merge_data={})
    assert message.send() == 1
    assert [r.status for r in results(message)] == ["sent", "suppressed"]
    assert [m["To"] for m in fake_postmark.sent_messages] == ["a@example.com"]


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"template_alias": None}, "merge_data"),
        ({"cc": ["c@example.com"]}, "cc"),
        ({"bcc": ["c@example.com"]}, "bcc"),
    ],
)
def test_what_merge_data_cannot_do_is_refused_before_any_request(
    fake_postmark: FakePostmark, options: dict[str, Any], field: str
) -> None:
    message = template(["a@example.com"], merge_data={})
    for name, value in options.items():
        setattr(message, name, value)
    if "template_alias" in options:
        message.body = "Hello"
    with pytest.raises(UnsupportedMessageError) as refused:
        message.send()
    assert refused.value.field == field and fake_postmark.requests == []


def test_the_queued_backend_sends_each_recipients_message_too(
    fake_postmark: FakePostmark, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.TASKS = {"default": {"BACKEND": IMMEDIATE}}
    message = template(
        ["a@example.com", "b@example.com"], merge_data={"b@example.com": {"name": "B"}}
    )
    queued = get_connection("postmark.backends.QueuedPostmarkBackend")
    with django_capture_on_commit_callbacks(execute=True):
        assert queued.send_messages([message]) == 2
    assert [r.status for r in results(message)] == ["queued", "queued"]
    assert message.postmark.status == "queued"  # type: ignore[attr-defined]
    assert message.postmark.message == "2 of 2 recipients' messages queued for sending."  # type: ignore[attr-defined]
    assert [m["TemplateModel"]["name"] for m in fake_postmark.sent_messages] == ["friend", "B"]
    assert sorted(Message.objects.values_list("to", "status")) == [
        ("a@example.com", "sent"),
        ("b@example.com", "sent"),
    ]
