"""Behaviours every django-postmark email backend must have, as one mixin of pytest tests.

Django's own mail backends share one set of tests; ours do the same. ``BackendContract`` is
Django's contract (``tests.support.django_backend_contract``) plus what this app promises: a
result on every message, refusals before any request, each message sent once whatever Postmark
answers. To check a backend, subclass it in the backend's ``test_*.py`` module::

    class TestQueuedBackend(BackendContract):
        backend = "postmark.backends.QueuedPostmarkBackend"
        sends_in_caller = False  # a worker sends; send_messages says how many it queued

        def deliver(self) -> None:
            run_pending_tasks()  # whatever makes queued work reach Postmark

The tests use the ``fake_postmark`` fixture (a loopback Postmark) and the database. ``deliver()``
runs before a test looks at what Postmark received (``posted()``); a backend that sends at once
needs nothing there. A backend that sends to memory (``in_memory``) is read from
``mail.outbox``, and the tests that script Postmark's answers do not apply to it.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.core.mail import EmailMessage, EmailMultiAlternatives
from hypothesis import given
from hypothesis import strategies as st

from postmark import signals
from postmark.exceptions import UnsupportedMessageError
from postmark.message import PostmarkEmailMessage
from postmark.models import Message
from postmark.results import Status
from tests.support.django_backend_contract import DjangoBackendContract
from tests.support.fake_postmark import FakePostmark
from tests.support.sending_strategies import (
    INJECTABLE_FIELDS,
    examples,
    message_with_line_break,
    misbehaviours,
    unencodable,
    with_line_break,
)

#: The field an UnsupportedMessageError names for a line break put in each injectable field.
NAMED_FIELD = {"header name": "header name", "header value": "header 'X-Custom'"}


class BackendContract(DjangoBackendContract):
    """Django's contract (the parent class) and what this app promises on top of it."""

    def test_message_without_recipients_is_not_sent(self, fake_postmark: FakePostmark) -> None:
        nobody = EmailMessage("s", "b", "from@example.com", [])
        assert self.connection().send_messages([nobody]) == 0
        assert self.posted(fake_postmark) == []

    def test_every_message_carries_a_result(self, fake_postmark: FakePostmark) -> None:
        messages = [self.message(1), EmailMessage("s", "b", "from@example.com", [])]
        self.connection().send_messages(messages)
        self.deliver()
        assert all(getattr(m, "postmark", None) is not None for m in messages)

    def test_unicode_survives(self, fake_postmark: FakePostmark) -> None:
        message = EmailMultiAlternatives(
            "Grüße ✉", "Ça va", "Zoë <z@example.com>", ["Jürgen <j@example.com>"]
        )
        message.attach_alternative("<p>日本語</p>", "text/html")
        assert self.connection().send_messages([message]) == 1
        [posted] = self.posted(fake_postmark)
        assert (posted["Subject"], posted["From"], posted["HtmlBody"]) == (
            "Grüße ✉",
            "Zoë <z@example.com>",
            "<p>日本語</p>",
        )

    def test_what_postmark_cannot_carry_is_refused_up_front(
        self, fake_postmark: FakePostmark
    ) -> None:
        bad = EmailMultiAlternatives("s", "b", "from@example.com", ["to@example.com"])
        bad.attach_alternative("BEGIN:VCALENDAR", "text/calendar")
        with pytest.raises(UnsupportedMessageError):
            self.connection().send_messages([self.message(1), bad])
        assert self.posted(fake_postmark) == []

    def test_a_line_break_in_any_header_is_refused_before_any_request(
        self, fake_postmark: FakePostmark
    ) -> None:
        @examples(12)
        @given(field=st.sampled_from(INJECTABLE_FIELDS), bad=with_line_break())
        def check(field: str, bad: str) -> None:
            self.reset(fake_postmark)
            with pytest.raises(UnsupportedMessageError) as caught:
                self.connection().send_messages(
                    [self.message(1), message_with_line_break(field, bad)]
                )
            assert (caught.value.field or "").startswith(NAMED_FIELD.get(field, field))
            assert self.posted(fake_postmark) == []
            assert fake_postmark.requests == []

        check()

    def test_a_value_json_cannot_carry_is_refused_before_any_request_naming_its_field(
        self, fake_postmark: FakePostmark
    ) -> None:
        @examples(12)
        @given(bad=unencodable(), where=st.sampled_from(["template_model", "passthrough"]))
        def check(bad: Any, where: str) -> None:
            self.reset(fake_postmark)
            message = PostmarkEmailMessage(
                to=["to@example.com"], from_email="from@example.com", template_alias="welcome"
            )
            if where == "template_model":
                message.template_model = {"user": "Ann", "value": bad}
            else:
                message.passthrough = {"SomeNewField": bad}
            with pytest.raises(UnsupportedMessageError) as caught:
                self.connection().send_messages([self.message(1), message])
            field = "TemplateModel" if where == "template_model" else "SomeNewField"
            assert caught.value.field == field
            assert "cannot carry" in str(caught.value)
            assert self.posted(fake_postmark) == []

            # With fail_silently, that message alone fails; the others go, once.
            others = [self.message(2), self.message(3)]
            sending = [others[0], message, others[1]]
            assert self.connection(fail_silently=True).send_messages(sending) == 2
            assert message.postmark.status == Status.FAILED
            assert message.postmark.error.field == field
            assert [m["To"] for m in self.posted(fake_postmark)] == [
                "to2@example.com",
                "to3@example.com",
            ]

        check()

    def test_a_wrong_from_address_names_the_from_field(self, fake_postmark: FakePostmark) -> None:
        wrong = EmailMessage("s", "b", "not an address", ["to@example.com"])
        with pytest.raises(UnsupportedMessageError, match=r"^From: ") as caught:
            self.connection().send_messages([wrong])
        assert caught.value.field == "From"
        assert self.posted(fake_postmark) == []
        assert fake_postmark.requests == []

    def test_whatever_postmark_answers_every_message_gets_one_result_and_goes_once(
        self, fake_postmark: FakePostmark, other_origin: FakePostmark, settings: Any
    ) -> None:
        self.script_postmarks_answers(settings)
        seen: list[tuple[str, Any]] = []

        def record(messages: list[EmailMessage], results: list[Any], **kwargs: Any) -> None:
            seen.extend((str(m.subject), r) for m, r in zip(messages, results, strict=True))

        signals.post_send.connect(record, weak=False)

        @examples(15)
        @given(behaviour=misbehaviours(other_origin.url), count=st.integers(1, 4))
        def check(behaviour: Any, count: int) -> None:
            self.reset(fake_postmark)
            seen.clear()
            fake_postmark.script(behaviour)
            logged = Message.objects.count()
            messages = [self.message(n) for n in range(count)]
            self.connection(fail_silently=True).send_messages(messages)  # nothing escapes
            self.deliver()
            assert sorted(subject for subject, _ in seen) == sorted(m.subject for m in messages)
            assert {r.status for _, r in seen} <= {Status.SENT, Status.FAILED, Status.UNKNOWN}
            assert Message.objects.count() == logged + count  # the log keeps every row
            processed = [m.get("Subject") for m in fake_postmark.processed_messages]
            assert len(processed) == len(set(processed)), "a message went twice"
            assert other_origin.requests == []

        try:
            check()
        finally:
            signals.post_send.disconnect(record)
