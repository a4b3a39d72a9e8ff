"""A scriptable HTTP server on loopback that plays Postmark's sending API for the tests.

Unlike ``postmark.sandbox`` (which behaves like Postmark), this one answers whatever a test
scripts, so that each failure Postmark can produce can be produced on demand.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    #: The client's (host, port): requests on one keep-alive connection share it.
    client: tuple[str, int] = ("", 0)
    #: The status it was answered with (429 and 503 say it was not processed).
    status: int = 0


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # JSON-encoded unless bytes
    delay: float = 0.0  # seconds before answering (for read timeouts)
    drop: bool = False  # close the connection without answering
    headers: dict[str, str] = field(default_factory=dict)  # extra headers (Location...)
    drip: float = 0.0  # seconds between the bytes of the body (a slow, steady answer)
    cut_after: int | None = None  # send this many body bytes, then close the connection


def redirect(to: str, status: int = 307) -> Reply:
    """A redirect to another origin, as a hijacked DNS name or a misconfigured proxy answers."""
    return Reply(status, {"Message": "moved"}, headers={"Location": to})


def accepted(message: dict[str, Any]) -> dict[str, Any]:
    return {
        "To": message.get("To", ""),
        "SubmittedAt": "2026-11-27T10:11:12.1234567-04:00",
        "MessageID": str(uuid.uuid4()),
        "ErrorCode": 0,
        "Message": "OK",
    }


@dataclass
class FakePostmark:
    url: str = ""
    requests: list[Received] = field(default_factory=list)
    replies: list[Reply | Callable[[Received], Reply]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def script(self, *replies: Reply | Callable[[Received], Reply]) -> None:
        """Answer the next requests with these, in order; afterwards, accept everything."""
        self.replies.extend(replies)

    def answer(self, received: Received) -> Reply:
        with self.lock:
            self.requests.append(received)
            scripted = self.replies.pop(0) if self.replies else None
        reply = default_reply(received) if scripted is None else scripted
        reply = reply(received) if callable(reply) else reply
        received.status = reply.status
        return reply

    @property
    def sent_messages(self) -> list[dict[str, Any]]:
        """Every message object posted, batch or single."""
        return self.messages_in(self.requests)

    @property
    def processed_messages(self) -> list[dict[str, Any]]:
        """The messages of requests not answered 429 or 503 (which say "not processed")."""
        return self.messages_in([r for r in self.requests if r.status not in (429, 503)])

    @staticmethod
    def messages_in(requests: list[Received]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for request in requests:
            body = request.body
            if isinstance(body, dict) and "Messages" in body:
                out.extend(body["Messages"])
            elif isinstance(body, list):
                out.extend(body)
            elif isinstance(body, dict):
                out.append(body)
        return out


def default_reply(received: Received) -> Reply:
    if received.path in ("/email/batch", "/email/batchWithTemplates"):
        body = received.body["Messages"] if isinstance(received.body, dict) else received.body
        return Reply(200, [accepted(message) for message in body])
    return Reply(200, accepted(received.body or {}))


def start(fake: FakePostmark, port: int = 0) -> tuple[ThreadingHTTPServer, threading.Thread]:
    """Serve ``fake`` on 127.0.0.1 (on ``port``, or any free one) in a daemon thread."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = raw
            client = (str(self.client_address[0]), int(self.client_address[1]))
            received = Received(self.command, self.path, dict(self.headers.items()), body, client)
            reply = fake.answer(received)
            if reply.delay:
                time.sleep(reply.delay)
            if reply.drop:
                self.close_connection = True
                self.connection.close()
                return
            data = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            if reply.cut_after is not None:
                self.wfile.write(data[: reply.cut_after])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            if reply.drip:
                for position in range(len(data)):
                    self.wfile.write(data[position : position + 1])
                    self.wfile.flush()
                    time.sleep(reply.drip)
                return
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = _handle

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    # A short poll interval: shutdown() waits up to one interval, once per test.
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    return server, thread


@contextmanager
def serving() -> Iterator[FakePostmark]:
    """A FakePostmark served on a free loopback port for the block."""
    fake = FakePostmark()
    server, _ = start(fake)
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
