"""Postmark's options (per message and as defaults from settings) and templates."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.mail import EmailMessage, EmailMultiAlternatives, get_connection

from postmark.exceptions import UnsupportedMessageError
from postmark.message import PostmarkEmailMessage, PostmarkEmailMultiAlternatives
from tests.support.fake_postmark import FakePostmark
from tests.support.link_ids import without_link_id

pytestmark = pytest.mark.django_db

OPTIONS: dict[str, Any] = {
    "tag": "welcome",
    "metadata": {"user": 42, "plan": "pro"},
    "track_opens": True,
    "track_links": "HtmlOnly",
    "message_stream": "broadcast",
}
EXPECTED = {
    "Tag": "welcome",
    "Metadata": {"user": "42", "plan": "pro"},
    "TrackOpens": True,
    "TrackLinks": "HtmlOnly",
    "MessageStream": "broadcast",
}


def only_options(body: dict[str, Any]) -> dict[str, Any]:
    # Every message also carries the id the app generates for it (tests/sending/test_link_ids.py).
    return {key: value for key, value in without_link_id(body).items() if key in EXPECTED}


def test_postmark_email_message_takes_options_as_keywords(fake_postmark: FakePostmark) -> None:
    message = PostmarkEmailMessage("s", "b", "f@example.com", ["t@example.com"], **OPTIONS)
    assert message.send() == 1
    assert only_options(fake_postmark.sent_messages[0]) == EXPECTED


def test_postmark_multi_alternatives_takes_options_as_keywords(
    fake_postmark: FakePostmark,
) -> None:
    message = PostmarkEmailMultiAlternatives(
        "s", "b", "f@example.com", ["t@example.com"], **OPTIONS
    )
    message.attach_alternative("<p>b</p>", "text/html")
    assert message.send() == 1
    body = fake_postmark.sent_messages[0]
    assert only_options(body) == EXPECTED
    assert body["HtmlBody"] == "<p>b</p>"


@pytest.mark.parametrize("cls", [EmailMessage, EmailMultiAlternatives])
def test_any_django_message_takes_options_as_attributes(
    cls: type[EmailMessage], fake_postmark: FakePostmark
) -> None:
    message = cls("s", "b", "f@example.com", ["t@example.com"])
    for name, value in OPTIONS.items():
        setattr(message, name, value)
    assert message.send() == 1
    assert only_options(fake_postmark.sent_messages[0]) == EXPECTED


def test_without_options_nothing_extra_is_sent(fake_postmark: FakePostmark) -> None:
    EmailMessage("s", "b", "f@example.com", ["t@example.com"]).send()
    assert only_options(fake_postmark.sent_messages[0]) == {}


def test_settings_give_defaults(fake_postmark: FakePostmark, settings) -> None:  # type: ignore[no-untyped-def]
    settings.POSTMARK_TAG = "default-tag"
    settings.POSTMARK_METADATA = {"site": "shop"}
    settings.POSTMARK_TRACK_OPENS = True
    settings.POSTMARK_TRACK_LINKS = "HtmlAndText"
    settings.POSTMARK_MESSAGE_STREAM = "transactional"
    EmailMessage("s", "b", "f@example.com", ["t@example.com"]).send()
    assert only_options(fake_postmark.sent_messages[0]) == {
        "Tag": "default-tag",
        "Metadata": {"site": "shop"},
        "TrackOpens": True,
        "TrackLinks": "HtmlAndText",
        "MessageStream": "transactional",
    }


def test_message_options_win_over_settings_and_metadata_merges(
    fake_postmark: FakePostmark,
    settings,  # type: ignore[no-untyped-def]
) -> None:
    settings.POSTMARK_TAG = "default-tag"
    settings.POSTMARK_METADATA = {"site": "shop", "plan": "free"}
    settings.POSTMARK_TRACK_OPENS = True
    settings.POSTMARK_TRACK_LINKS = "HtmlAndText"
    settings.POSTMARK_MESSAGE_STREAM = "transactional"
    PostmarkEmailMessage(
        "s",
        "b",
        "f@example.com",
        ["t@example.com"],
        tag="own",
        metadata={"plan": "pro"},
        # False must win over a True default, not be mistaken for "unset".
        track_opens=False,
        track_links="None",
        message_stream="broadcast",
    ).send()
    assert only_options(fake_postmark.sent_messages[0]) == {
        "Tag": "own",
        "Metadata": {"site": "shop", "plan": "pro"},
        "TrackOpens": False,
        "TrackLinks": "None",
        "MessageStream": "broadcast",
    }


def test_template_by_alias_posts_to_with_template(fake_postmark: FakePostmark) -> None:
    message = PostmarkEmailMessage(
        from_email="f@example.com",
        to=["t@example.com"],
        template_alias="welcome",
        template_model={"name": "Zoë", "items": [1, 2]},
        tag="onboarding",
    )
    assert message.send() == 1
    [request] = fake_postmark.requests
    assert request.path == "/email/withTemplate"
    assert without_link_id(request.body) == {
        "From": "f@example.com",
        "To": "t@example.com",
        "TemplateAlias": "welcome",
        "TemplateModel": {"name": "Zoë", "items": [1, 2]},
        "Tag": "onboarding",
    }
    assert message.postmark.status == "sent"  # type: ignore[attr-defined]


def test_template_by_id_with_empty_model_and_inline_css(fake_postmark: FakePostmark) -> None:
    message = EmailMessage(from_email="f@example.com", to=["t@example.com"])
    message.template_id = 1234  # type: ignore[attr-defined]
    message.inline_css = False  # type: ignore[attr-defined]
    assert message.send() == 1
    body = fake_postmark.requests[0].body
    assert (body["TemplateId"], body["TemplateModel"], body["InlineCss"]) == (1234, {}, False)
    assert "Subject" not in body and "TextBody" not in body


def test_several_template_messages_go_in_one_batch_with_templates_call(
    fake_postmark: FakePostmark,
) -> None:
    messages = [
        PostmarkEmailMessage(
            to=[f"t{i}@example.com"], template_alias="receipt", template_model={"n": i}
        )
        for i in range(3)
    ]
    assert get_connection().send_messages(messages) == 3
    [request] = fake_postmark.requests
    assert request.path == "/email/batchWithTemplates"
    assert [m["TemplateModel"] for m in request.body["Messages"]] == [{"n": 0}, {"n": 1}, {"n": 2}]


def test_template_and_plain_messages_are_split_by_endpoint(fake_postmark: FakePostmark) -> None:
    messages = [
        EmailMessage("a", "b", "f@example.com", ["a@example.com"]),
        PostmarkEmailMessage(to=["b@example.com"], template_alias="x"),
        EmailMessage("c", "d", "f@example.com", ["c@example.com"]),
        PostmarkEmailMessage(to=["d@example.com"], template_alias="y"),
    ]
    assert get_connection().send_messages(messages) == 4
    assert sorted(r.path for r in fake_postmark.requests) == [
        "/email/batch",
        "/email/batchWithTemplates",
    ]
    assert all(m.postmark.status == "sent" for m in messages)  # type: ignore[attr-defined]


def test_template_message_with_its_own_subject_is_refused(fake_postmark: FakePostmark) -> None:
    message = PostmarkEmailMessage("Subject", to=["t@example.com"], template_alias="x")
    with pytest.raises(UnsupportedMessageError, match="takes its subject and bodies"):
        message.send()
    assert fake_postmark.requests == []
