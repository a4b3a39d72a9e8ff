"""Django's own contract for an email backend, as a mixin of pytest tests that every backend of
this app passes (``tests.support.backend_contract.BackendContract`` adds Postmark's part).

These are the behaviours Django's own backend tests ask of each of its backends (the shared
``BaseEmailBackendTests`` of Django's tests/mail). Part one, what a message holds (lazy text, IDN
domains, names outside ASCII), is ``tests.support.address_contract``; here: ``send_messages``
takes any iterable of messages, reads it once and returns how many went; nothing to send makes
no call; ``fail_silently``; ``open()`` twice, the context manager, one connection for several
sends, ``close()`` when never opened. Each test looks at what reached Postmark (``posted()``) and
at what ``send_messages`` returned.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest
from django.core import mail
from django.core.mail import EmailMessage
from hypothesis import given
from hypothesis import strategies as st

from postmark import signals
from postmark.exceptions import PostmarkError, UnsupportedMessageError
from postmark.models import QueuedBatch
from postmark.results import Status
from tests.support.address_contract import AddressContract
from tests.support.fake_postmark import FakePostmark, Reply
from tests.support.link_ids import without_link_id
from tests.support.sending_strategies import (
    INJECTABLE_FIELDS,
    examples,
    message_with_line_break,
    misbehaviours,
    with_line_break,
)


class Passes:
    """An iterable that is not an iterator (a queryset, say): it counts how often it is read."""

    def __init__(self, items: list[EmailMessage]) -> None:
        self.items, self.passes = items, 0

    def __iter__(self) -> Iterator[EmailMessage]:
        self.passes += 1
        return iter(self.items)


#: The iterables a caller hands to send_messages (Django's own tests pass lists and iterators).
ITERABLES: dict[str, Callable[[list[EmailMessage]], Iterable[EmailMessage]]] = {
    "list": list,
    "tuple": tuple,
    "iterator": iter,
    "generator": lambda messages: (message for message in messages),
    "map": lambda messages: map(lambda message: message, messages),
    "re-readable": Passes,
}


class DjangoBackendContract(AddressContract):
    """Django's contract: part one (the parent class) and the sending itself."""

    # --- send_messages() takes any iterable ------------------------------------------------------

    def test_send_messages_takes_any_iterable_and_reads_it_once(
        self, fake_postmark: FakePostmark, settings: Any
    ) -> None:
        settings.POSTMARK_BATCH_SIZE = 2  # so that an iterable of a few messages is several calls

        @examples(15)
        @given(kind=st.sampled_from(sorted(ITERABLES)), count=st.integers(0, 5))
        def check(kind: str, count: int) -> None:
            self.reset(fake_postmark)
            messages = [self.message(n) for n in range(count)]
            source = ITERABLES[kind](messages)
            assert self.connection().send_messages(source) == count
            # Sorted: several calls may go at once.
            posted = sorted(m["To"] for m in self.posted(fake_postmark))
            assert posted == sorted(f"to{n}@example.com" for n in range(count))
            assert all(getattr(m, "postmark", None) is not None for m in messages)
            if isinstance(source, Passes):
                assert source.passes == 1, "the messages were read more than once"

        check()

    @pytest.mark.parametrize("kind", sorted(ITERABLES))
    def test_nothing_to_send_returns_zero_and_makes_no_call(
        self, kind: str, fake_postmark: FakePostmark
    ) -> None:
        connection, opened, batches = self.connection(), [], []
        connection.open = lambda: opened.append(True)

        def record(**kwargs: Any) -> None:
            batches.append(kwargs)

        signals.pre_send.connect(record, weak=False)
        try:
            assert connection.send_messages(ITERABLES[kind]([])) == 0
        finally:
            signals.pre_send.disconnect(record)
        assert (opened, batches, self.posted(fake_postmark)) == ([], [], [])
        assert fake_postmark.requests == []
        assert not QueuedBatch.objects.exists()

    def test_send_mail_through_settings_backend(
        self, fake_postmark: FakePostmark, settings: Any
    ) -> None:
        settings.EMAIL_BACKEND = self.backend
        html = "<p>Body</p>"
        assert mail.send_mail("Hi", "Body", "f@example.com", ["t@example.com"], html_message=html)
        [posted] = self.posted(fake_postmark)
        assert without_link_id(posted) == {
            "From": "f@example.com",
            "To": "t@example.com",
            "Subject": "Hi",
            "TextBody": "Body",
            "HtmlBody": html,
        }

    def test_send_mass_mail_counts_every_message(
        self, fake_postmark: FakePostmark, settings: Any
    ) -> None:
        settings.EMAIL_BACKEND = self.backend
        datatuple = (
            ("s1", "b1", "f@example.com", ["a@example.com"]),
            ("s2", "b2", None, ["b@example.com"]),
        )
        assert mail.send_mass_mail(datatuple) == 2
        assert [m["To"] for m in self.posted(fake_postmark)] == ["a@example.com", "b@example.com"]

    # --- fail_silently ---------------------------------------------------------------------------

    def test_fail_silently_covers_a_refused_message_and_only_that(
        self, fake_postmark: FakePostmark
    ) -> None:
        @examples(10)
        @given(
            field=st.sampled_from(INJECTABLE_FIELDS),
            bad=with_line_break(),
            count=st.integers(0, 3),
            data=st.data(),
        )
        def check(field: str, bad: str, count: int, data: st.DataObject) -> None:
            self.reset(fake_postmark)
            others = [self.message(n) for n in range(count)]
            refused = message_with_line_break(field, bad, n=9)
            messages = list(others)
            messages.insert(data.draw(st.integers(0, count)), refused)
            with pytest.raises(UnsupportedMessageError):
                self.connection().send_messages(messages)
            assert self.posted(fake_postmark) == []
            assert self.connection(fail_silently=True).send_messages(messages) == count
            assert refused.postmark.status == Status.FAILED  # type: ignore[attr-defined]
            assert [m["To"] for m in self.posted(fake_postmark)] == [m.to[0] for m in others]

        check()

    def script_postmarks_answers(self, settings: Any) -> None:
        """For a test that scripts Postmark's answers: skipped where Postmark is in memory (it
        accepts everything); retries kept few and without waiting."""
        if self.in_memory:
            pytest.skip("this backend's Postmark is in memory and accepts every message")
        settings.POSTMARK_MAX_RETRIES = 2
        settings.POSTMARK_RETRY_BACKOFF = 0.0

    def test_fail_silently_decides_whether_what_postmark_refuses_raises(
        self, fake_postmark: FakePostmark, other_origin: FakePostmark, settings: Any
    ) -> None:
        self.script_postmarks_answers(settings)
        refusals = st.sampled_from(
            [
                Reply(422, {"ErrorCode": 300, "Message": "Invalid email request"}),
                Reply(401, {"ErrorCode": 10, "Message": "Bad or missing API token"}),
                Reply(500, {"ErrorCode": 0, "Message": "oops"}),
            ]
        )

        @examples(15)
        @given(
            answer=refusals | misbehaviours(other_origin.url),
            count=st.integers(1, 3),
            quiet=st.booleans(),
        )
        def check(answer: Any, count: int, quiet: bool) -> None:
            self.reset(fake_postmark)
            fake_postmark.script(answer)
            messages = [self.message(n) for n in range(count)]
            raised: PostmarkError | None = None
            try:
                sent = self.connection(fail_silently=quiet).send_messages(messages)
            except PostmarkError as error:
                raised = error
            self.deliver()
            if not self.sends_in_caller:
                # Queued: the worker meets Postmark's answer, after the caller has been told.
                assert (raised, sent) == (None, count)
                return
            accepted = sum(m.postmark.accepted for m in messages)  # type: ignore[attr-defined]
            if quiet:
                assert (raised, sent) == (None, accepted)
            elif accepted < count:
                assert raised is not None, "fail_silently=False kept a failure quiet"
            else:
                assert (raised, sent) == (None, count)

        check()

    # --- The connection: open(), close(), the context manager ------------------------------------

    def test_open_twice_opens_one_connection(self) -> None:
        connection = self.connection()
        assert connection.open() is True
        client = connection.client
        assert connection.open() is False
        assert connection.client is client
        connection.close()
        assert connection.client is None

    def test_close_without_open_is_harmless_and_a_later_send_works(
        self, fake_postmark: FakePostmark
    ) -> None:
        connection = self.connection()
        connection.close()
        connection.close()
        assert connection.send_messages([self.message(1)]) == 1
        assert connection.client is None  # the send closed what it opened itself
        assert [m["To"] for m in self.posted(fake_postmark)] == ["to1@example.com"]

    def test_usable_as_a_context_manager(self, fake_postmark: FakePostmark) -> None:
        connection = self.connection()
        with connection as entered:
            assert entered is connection
            client = connection.client
            assert client is not None
            assert connection.send_messages([self.message(1)]) == 1
            assert connection.send_messages((self.message(2),)) == 1
            assert connection.client is client
        assert connection.client is None
        posted = self.posted(fake_postmark)
        assert [m["To"] for m in posted] == ["to1@example.com", "to2@example.com"]
        assert self.one_connection(fake_postmark)

    def test_one_open_connection_serves_several_sends(self, fake_postmark: FakePostmark) -> None:
        @examples(6)
        @given(sizes=st.lists(st.integers(1, 3), min_size=2, max_size=4))
        def check(sizes: list[int]) -> None:
            self.reset(fake_postmark)
            connection = self.connection()
            connection.open()
            client = connection.client
            expected: list[str] = []
            try:
                for size in sizes:
                    batch = [self.message(len(expected) + n) for n in range(size)]
                    expected += [m.to[0] for m in batch]
                    assert connection.send_messages(batch) == size
                    assert connection.client is client, "a send replaced or closed it"
            finally:
                connection.close()
            assert [m["To"] for m in self.posted(fake_postmark)] == expected
            assert self.one_connection(fake_postmark), "a send opened a connection of its own"

        check()
