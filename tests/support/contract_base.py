"""What every backend contract test stands on: the backend under test, how to reach what
"Postmark" received, and how to start afresh between the examples of one test.

``tests.support.backend_contract.BackendContract`` is the one mixin a backend's test module
subclasses; this is its root.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.core import mail
from django.core.mail import EmailMessage, get_connection

from tests.support.fake_postmark import FakePostmark, serving


class ContractBase:
    backend: str = "postmark.backends.PostmarkBackend"
    #: Sends to memory (PostmarkTestBackend): what "Postmark" received is in mail.outbox, and no
    #: answer of Postmark's can be scripted.
    in_memory: bool = False
    #: Sends in the caller, through the connection it opens. False: a worker sends each batch
    #: later (QueuedPostmarkBackend), so Postmark's answer never reaches the caller, and
    #: send_messages returns how many it queued.
    sends_in_caller: bool = True

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

    def posted(self, fake_postmark: FakePostmark) -> list[dict[str, Any]]:
        """Each message Postmark received so far, in order, once pending work is delivered."""
        self.deliver()
        if self.in_memory:
            assert fake_postmark.requests == [], "a backend that sends to memory made a request"
            return [message.postmark_payload for message in getattr(mail, "outbox", [])]
        return fake_postmark.sent_messages

    @staticmethod
    def reset(fake_postmark: FakePostmark) -> None:
        """Forget what was sent and scripted (between the examples of one test)."""
        fake_postmark.requests.clear()
        fake_postmark.replies.clear()
        mail.outbox = []

    def one_connection(self, fake_postmark: FakePostmark) -> bool:
        """Whether every request came on one keep-alive connection (always, if none can)."""
        if self.in_memory or not self.sends_in_caller:
            return True  # no request, or each batch is a worker's
        return len({request.client for request in fake_postmark.requests}) == 1

    @pytest.fixture
    def other_origin(self) -> Iterator[FakePostmark]:
        """Another server, where redirects point: nothing may ever reach it."""
        with serving() as other:
            yield other
