"""Fixtures of the sending tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.dispatch import Signal


@pytest.fixture
def connect() -> Iterator[Callable[[Signal, Callable[..., Any]], list[dict[str, Any]]]]:
    """Connect a receiver for the test; returns the list of calls (their keyword arguments)."""
    connected: list[tuple[Signal, Callable[..., Any]]] = []

    def _connect(
        signal: Signal, receiver: Callable[..., Any] | None = None
    ) -> list[dict[str, Any]]:
        calls: list[dict[str, Any]] = []

        def record(**kwargs: Any) -> None:
            calls.append(kwargs)
            if receiver is not None:
                receiver(**kwargs)

        signal.connect(record, weak=False)
        connected.append((signal, record))
        return calls

    yield _connect
    for signal, receiver in connected:
        signal.disconnect(receiver)
