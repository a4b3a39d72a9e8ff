"""Fixtures of the webhook tests: the signals they catch, a receiver that fails."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from postmark import signals
from tests.support.webhook_helpers import failing_receiver


@pytest.fixture
def caught() -> Iterator[list[tuple[Any, dict[str, Any]]]]:
    """Every webhook signal sent during the test, as (signal, kwargs)."""
    calls: list[tuple[Any, dict[str, Any]]] = []
    receivers = []
    for signal in signals.EVENT_SIGNALS.values():

        def receiver(sender: Any, _signal: Any = signal, **kwargs: Any) -> None:
            calls.append((_signal, {"sender": sender, **kwargs}))

        signal.connect(receiver, weak=False)
        receivers.append((signal, receiver))
    yield calls
    for signal, receiver in receivers:
        signal.disconnect(receiver)


@pytest.fixture
def broken_receiver() -> Iterator[list[int]]:
    with failing_receiver(signals.bounce_received, "the receiver is broken") as mended:
        yield mended
