"""Fixtures of the settling tests: the sandbox with settling's waits for tests, and the
``message_settled`` signals sent."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from postmark import signals
from postmark.models import Message
from postmark.sandbox import Sandbox
from tests.support.settling import TRUSTED_AFTER


@pytest.fixture
def sandbox(postmark_sandbox: Sandbox, settings: Any) -> Sandbox:
    """The sandbox; a message is searched for at once, and "not found" believed only once time
    has moved on (``tests.support.settling.later``)."""
    settings.POSTMARK_MAX_RETRIES = 0
    settings.POSTMARK_SETTLE_AFTER = 0
    settings.POSTMARK_SETTLE_NOT_FOUND_AFTER = TRUSTED_AFTER
    return postmark_sandbox


@pytest.fixture
def settled() -> Iterator[list[tuple[str, int, str]]]:
    """Every ``message_settled``: (outcome, the row's pk, the reason)."""
    seen: list[tuple[str, int, str]] = []

    def record(sender: Any, message: Message, outcome: str, reason: str, **kwargs: Any) -> None:
        assert sender is Message
        seen.append((outcome, message.pk, reason))

    signals.message_settled.connect(record)
    yield seen
    signals.message_settled.disconnect(record)
