"""``passthrough`` (payload fields this app does not know, merged last) and ``server_token``
(one site, several Postmark servers), through the backend against a scripted Postmark."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import mail
from django.core.mail import EmailMessage, get_connection
from hypothesis import given
from hypothesis import strategies as st

from postmark.api.spec import TEST_TOKEN
from postmark.exceptions import UnsupportedMessageError
from postmark.message import PostmarkEmailMessage, server_label
from postmark.models import Message
from tests.support.fake_postmark import FakePostmark, Reply, serving

pytestmark = pytest.mark.django_db

BUILT = [
    "From", "To", "Cc", "Bcc", "ReplyTo", "Subject", "HtmlBody", "TextBody", "Tag", "Metadata",
    "TrackOpens", "TrackLinks", "MessageStream", "Headers", "Attachments", "TemplateId",
    "TemplateAlias", "TemplateModel", "InlineCss", "Messages",
]  # fmt: skip


def message(**options: Any) -> PostmarkEmailMessage:
    return PostmarkEmailMessage("s", "b", "f@example.com", ["t@example.com"], **options)


def test_passthrough_fields_reach_the_payload_beside_the_built_ones(
    fake_postmark: FakePostmark,
) -> None:
    future = {"Nested": {"A": [1, 2]}, "Flag": True}
    assert message(passthrough={"FutureField": future, "Other": "x"}).send() == 1
    [sent] = fake_postmark.sent_messages
    assert sent["FutureField"] == future and sent["Other"] == "x"
    assert (sent["Subject"], sent["To"], sent["TextBody"]) == ("s", "t@example.com", "b")


def test_passthrough_on_a_template_message(fake_postmark: FakePostmark) -> None:
    template = PostmarkEmailMessage(
        to=["t@example.com"], template_alias="welcome", passthrough={"NewOption": 3}
    )
    assert template.send() == 1
    [request] = fake_postmark.requests
    assert request.path == "/email/withTemplate" and request.body["NewOption"] == 3


@given(
    name=st.sampled_from(BUILT),
    casing=st.lists(st.booleans(), min_size=20, max_size=20),
    padding=st.sampled_from(["", " ", "\t"]),
    value=st.one_of(st.text(), st.lists(st.text()), st.dictionaries(st.text(), st.text())),
)
def test_passthrough_never_sets_a_field_the_app_builds_in_any_spelling(
    name: str, casing: list[bool], padding: str, value: Any
) -> None:
    # Postmark reads JSON keys case-insensitively: "sUBJECT" would replace the checked Subject
    # with one that may carry "\r\nBcc: ...".
    spelt = padding + "".join(
        c.upper() if up else c.lower() for c, up in zip(name, casing[: len(name)], strict=True)
    )
    with serving() as fake, pytest.raises(UnsupportedMessageError) as refused:
        get_connection(api_url=fake.url).send_messages([message(passthrough={spelt: value})])
    assert refused.value.field == "passthrough" and fake.requests == []


@given(key=st.text(min_size=1).map(lambda t: t + "\r\nBcc"))
def test_passthrough_keys_with_line_breaks_are_refused(key: str) -> None:
    with serving() as fake, pytest.raises(UnsupportedMessageError):
        get_connection(api_url=fake.url).send_messages([message(passthrough={key: "x"})])
    assert fake.requests == []


def test_messages_are_grouped_per_server_token_each_call_with_its_token(
    fake_postmark: FakePostmark, settings: Any
) -> None:
    settings.POSTMARK_API_KEY = "default-token"
    messages = [
        message(server_token="token-a"),
        message(),
        message(server_token="token-b"),
        message(server_token="token-a"),
        message(),
    ]
    assert get_connection().send_messages(messages) == 5
    calls = {
        r.headers["X-Postmark-Server-Token"]: len(r.body) if isinstance(r.body, list) else 1
        for r in fake_postmark.requests
    }
    assert calls == {"default-token": 2, "token-a": 2, "token-b": 1}
    assert all(m.postmark.status == "sent" for m in messages)  # type: ignore[attr-defined]


def test_the_log_records_which_server_but_never_the_token(
    fake_postmark: FakePostmark, settings: Any
) -> None:
    settings.POSTMARK_API_KEY = "default-token"
    get_connection().send_messages([message(server_token="secret-token-a"), message()])
    servers = sorted(Message.objects.values_list("server", flat=True))
    assert servers == ["", server_label("secret-token-a")]
    assert len(servers[1]) == 12
    for row in Message.objects.values():
        assert "secret-token-a" not in repr(row)


def test_test_mode_sends_every_server_token_with_the_test_token(
    fake_postmark: FakePostmark, settings: Any
) -> None:
    settings.POSTMARK_TEST_MODE = True
    assert message(server_token="real-token").send() == 1
    [request] = fake_postmark.requests
    assert request.headers["X-Postmark-Server-Token"] == TEST_TOKEN


def test_a_refused_server_token_fails_its_call_only(
    fake_postmark: FakePostmark, settings: Any
) -> None:
    settings.POSTMARK_API_KEY = "default-token"
    good, bad = message(), message(server_token="revoked")

    def by_token(received: Any) -> Reply:
        if received.headers["X-Postmark-Server-Token"] == "revoked":
            return Reply(401, {"ErrorCode": 10, "Message": "Bad token"})
        return Reply(200, {"MessageID": "0d1b1b1a-0000-4000-8000-000000000000", "ErrorCode": 0})

    fake_postmark.script(by_token, by_token)
    assert get_connection(fail_silently=True).send_messages([good, bad]) == 1
    assert good.postmark.status == "sent"  # type: ignore[attr-defined]
    assert bad.postmark.status == "failed"  # type: ignore[attr-defined]
    assert bad.postmark.error_code == 10  # type: ignore[attr-defined]


def test_any_django_message_takes_the_options_as_attributes(fake_postmark: FakePostmark) -> None:
    plain = EmailMessage("s", "b", "f@example.com", ["t@example.com"])
    plain.passthrough = {"X": 1}  # type: ignore[attr-defined]
    plain.server_token = "token-c"  # type: ignore[attr-defined]
    assert plain.send() == 1
    [request] = fake_postmark.requests
    assert request.body["X"] == 1 and request.headers["X-Postmark-Server-Token"] == "token-c"


def test_the_in_memory_test_backend_records_messages_sent_with_a_server_token() -> None:
    backend = get_connection("postmark.testing.backend.PostmarkTestBackend")
    assert backend.send_messages([message(server_token="token-d", passthrough={"New": 1})]) == 1
    [sent] = mail.outbox
    assert sent.postmark_payload["New"] == 1  # type: ignore[attr-defined]
