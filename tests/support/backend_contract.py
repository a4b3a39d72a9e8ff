"""Behaviours every django-postmark email backend must have, as a mixin of pytest tests.

Django's own mail backends share one set of tests; ours do the same. To check a backend,
subclass ``BackendContract`` in a ``test_*.py`` module::

    class TestQueuedBackend(BackendContract):
        backend = "postmark.backends.QueuedPostmarkBackend"

        def deliver(self) -> None:
            run_pending_tasks()  # whatever makes queued work reach Postmark

The tests use the ``fake_postmark`` fixture (a loopback Postmark) and the database. ``deliver()``
runs after each send and before the test looks at what Postmark received; a backend that sends
at once needs nothing there. ``sent_count(n)`` is what ``send_messages`` returns for ``n``
accepted messages (a queued backend may report them once queued: the same number).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.core import mail
from django.core.mail import EmailMessage, EmailMultiAlternatives, get_connection
from hypothesis import given
from hypothesis import strategies as st

from postmark import signals
from postmark.exceptions import UnsupportedMessageError
from postmark.message import PostmarkEmailMessage
from postmark.models import Message
from postmark.results import Status
from tests.support.fake_postmark import FakePostmark, serving
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


class BackendContract:
    backend: str = "postmark.backends.PostmarkBackend"

    @pytest.fixture(autouse=True)
    def _database(self, db: None) -> None:
        """The database, in a transaction per test; a subclass may ask for transactional_db."""

    def deliver(self) -> None:
        """Make pending work reach Postmark (nothing to do for a backend that sends at once)."""

    def connection(self, **kwargs: Any) -> Any:
        return get_connection(self.backend, **kwargs)

    @staticmethod
    def message(n: int = 0, **kwargs: Any) -> EmailMessage:
        return EmailMessage(
            f"Subject {n}", f"Body {n}", "from@example.com", [f"to{n}@example.com"], **kwargs
        )

    def test_sending_nothing_returns_zero_and_posts_nothing(
        self, fake_postmark: FakePostmark
    ) -> None:
        assert self.connection().send_messages([]) == 0
        self.deliver()
        assert fake_postmark.requests == []

    def test_send_messages_returns_the_number_sent(self, fake_postmark: FakePostmark) -> None:
        assert self.connection().send_messages([self.message(i) for i in range(3)]) == 3
        self.deliver()
        assert sorted(m["To"] for m in fake_postmark.sent_messages) == [
            "to0@example.com",
            "to1@example.com",
            "to2@example.com",
        ]

    def test_send_mail_through_settings_backend(
        self, fake_postmark: FakePostmark, settings
    ) -> None:  # type: ignore[no-untyped-def]
        settings.EMAIL_BACKEND = self.backend
        assert mail.send_mail("Hi", "Body", "from@example.com", ["to@example.com"]) == 1
        self.deliver()
        [posted] = fake_postmark.sent_messages
        assert (posted["Subject"], posted["TextBody"], posted["To"]) == (
            "Hi",
            "Body",
            "to@example.com",
        )

    def test_send_mass_mail_counts_every_message(
        self, fake_postmark: FakePostmark, settings
    ) -> None:  # type: ignore[no-untyped-def]
        settings.EMAIL_BACKEND = self.backend
        datatuple = [
            ("s1", "b1", "f@example.com", ["a@example.com"]),
            ("s2", "b2", None, ["b@example.com"]),
        ]
        assert mail.send_mass_mail(datatuple) == 2
        self.deliver()
        assert len(fake_postmark.sent_messages) == 2

    def test_usable_as_a_context_manager(self, fake_postmark: FakePostmark) -> None:
        with self.connection() as connection:
            assert connection.send_messages([self.message(1)]) == 1
            assert connection.send_messages([self.message(2)]) == 1
        self.deliver()
        assert len(fake_postmark.sent_messages) == 2

    def test_close_without_open_is_harmless(self) -> None:
        self.connection().close()

    def test_message_without_recipients_is_not_sent(self, fake_postmark: FakePostmark) -> None:
        nobody = EmailMessage("s", "b", "from@example.com", [])
        assert self.connection().send_messages([nobody]) == 0
        self.deliver()
        assert fake_postmark.sent_messages == []

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
        self.deliver()
        [posted] = fake_postmark.sent_messages
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
        self.deliver()
        assert fake_postmark.sent_messages == []

    def test_a_line_break_in_any_header_is_refused_before_any_request(
        self, fake_postmark: FakePostmark
    ) -> None:
        @examples(12)
        @given(field=st.sampled_from(INJECTABLE_FIELDS), bad=with_line_break())
        def check(field: str, bad: str) -> None:
            fake_postmark.requests.clear()
            with pytest.raises(UnsupportedMessageError) as caught:
                self.connection().send_messages(
                    [self.message(1), message_with_line_break(field, bad)]
                )
            assert (caught.value.field or "").startswith(NAMED_FIELD.get(field, field))
            self.deliver()
            assert fake_postmark.requests == []

        check()

    def test_a_value_json_cannot_carry_is_refused_before_any_request_naming_its_field(
        self, fake_postmark: FakePostmark
    ) -> None:
        @examples(12)
        @given(bad=unencodable(), where=st.sampled_from(["template_model", "passthrough"]))
        def check(bad: Any, where: str) -> None:
            fake_postmark.requests.clear()
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
            self.deliver()
            assert fake_postmark.requests == []

            # With fail_silently, that message alone fails; the others go, once.
            others = [self.message(2), self.message(3)]
            self.connection(fail_silently=True).send_messages([others[0], message, others[1]])
            self.deliver()
            assert message.postmark.status == Status.FAILED
            assert message.postmark.error.field == field
            assert sorted(m["To"] for m in fake_postmark.sent_messages) == [
                "to2@example.com",
                "to3@example.com",
            ]

        check()

    def test_a_wrong_from_address_names_the_from_field(self, fake_postmark: FakePostmark) -> None:
        wrong = EmailMessage("s", "b", "not an address", ["to@example.com"])
        with pytest.raises(UnsupportedMessageError, match=r"^From: ") as caught:
            self.connection().send_messages([wrong])
        assert caught.value.field == "From"
        self.deliver()
        assert fake_postmark.requests == []

    @pytest.fixture
    def other_origin(self) -> Iterator[FakePostmark]:
        """Another server, where redirects point: nothing may ever reach it."""
        with serving() as other:
            yield other

    def test_whatever_postmark_answers_every_message_gets_one_result_and_goes_once(
        self, fake_postmark: FakePostmark, other_origin: FakePostmark, settings: Any
    ) -> None:
        settings.POSTMARK_MAX_RETRIES = 2
        settings.POSTMARK_RETRY_BACKOFF = 0.0
        seen: list[tuple[str, Any]] = []

        def record(messages: list[EmailMessage], results: list[Any], **kwargs: Any) -> None:
            seen.extend((str(m.subject), r) for m, r in zip(messages, results, strict=True))

        signals.post_send.connect(record, weak=False)

        @examples(15)
        @given(behaviour=misbehaviours(other_origin.url), count=st.integers(1, 4))
        def check(behaviour: Any, count: int) -> None:
            fake_postmark.requests.clear()
            fake_postmark.replies.clear()
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
