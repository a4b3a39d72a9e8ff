"""Talking to the sandbox over real HTTP: our own API client, and an endpoint that receives the
webhooks the sandbox posts (tests/sandbox/conftest.py makes them fixtures)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from postmark.client import Client


@dataclass
class Receiver:
    """An HTTP endpoint that records webhooks and answers the scripted statuses, then 200."""

    url: str = ""
    received: list[tuple[str | None, dict[str, Any]]] = field(default_factory=list)
    #: The request headers of each webhook received, in order.
    headers: list[dict[str, str]] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    #: Cleared, each webhook is held unanswered until it is set again (at most 5 s).
    answering: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.answering.set()

    def payloads(self, record_type: str | None = None) -> list[dict[str, Any]]:
        return [p for _, p in self.received if record_type in (None, p.get("RecordType"))]


@contextmanager
def receiving() -> Iterator[Receiver]:
    """A ``Receiver`` on a free loopback port, for the block's duration."""
    target = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            target.received.append((self.headers.get("Authorization"), body))
            target.headers.append(dict(self.headers.items()))
            target.answering.wait(timeout=5)
            status = target.statuses.pop(0) if target.statuses else 200
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    target.url = f"http://127.0.0.1:{server.server_port}/postmark/bounce/"
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}).start()
    try:
        yield target
    finally:
        server.shutdown()
        server.server_close()


def send(client: Client, to: str, **fields: Any) -> dict[str, Any]:
    return client.send({"From": "Shop <shop@example.com>", "To": to, "TextBody": "Hi", **fields})
