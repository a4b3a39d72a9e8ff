"""Fixtures of the webhook tests: the signals they catch, a receiver that fails."""

from __future__ import annotations

import threading
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


@pytest.fixture
def server_url() -> Iterator[str]:
    """Django behind a real threaded WSGI server on loopback, one thread (and database
    connection) per request, as in production. (pytest-django's live_server needs STATIC_URL.)"""
    from django.core.handlers.wsgi import WSGIHandler
    from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler

    class QuietHandler(WSGIRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadedWSGIServer(("127.0.0.1", 0), QuietHandler, allow_reuse_address=False)
    server.set_app(WSGIHandler())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
