"""What the whole-call deadline (POSTMARK_TIMEOUT, connect + read) protects against: a server
that trickles its answer a byte at a time, each byte well within the read timeout, for ever.
requests' own timeout bounds each read, not the answer, so without the deadline such a server
holds the send (and the queue's worker) as long as it likes. It must end by the deadline,
whether the trickle is in the headers or the body, and whether the call goes straight to the
server or through an HTTP proxy (HTTP_PROXY)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import suppress
from typing import Any

import pytest
from django.core.mail import EmailMessage, get_connection

from postmark.exceptions import PostmarkTimeout
from postmark.results import Status

pytestmark = pytest.mark.django_db

TIMEOUT = (0.3, 0.3)  # a deadline of 0.6 s
TRICKLE = 0.02  # seconds between two bytes: 15 times quicker than the read timeout
FOR_EVER = 3.0  # seconds the trickle lasts: past the deadline and the test's bound (not hung)


class Listener:
    """A loopback server in a thread that hands every connection to ``serve``; stopped (its
    connections shut) at the end of the test."""

    def __init__(self) -> None:
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.socket.settimeout(0.05)
        self.stopped = threading.Event()
        self.connections = 0
        self.url = f"http://127.0.0.1:{self.socket.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        with self.socket:
            while not self.stopped.is_set():
                try:
                    conn, _ = self.socket.accept()
                except TimeoutError:
                    continue
                self.connections += 1
                threading.Thread(target=self._guarded, args=(conn,), daemon=True).start()

    def _guarded(self, conn: socket.socket) -> None:
        with conn, suppress(OSError):  # the client cut the connection: its deadline did
            self.serve(conn)

    def serve(self, conn: socket.socket) -> None:
        raise NotImplementedError


class Trickler(Listener):
    """Reads a request, then answers a byte every TRICKLE seconds, never finishing: in the
    headers (a header line without end) or in the body (a body that never reaches its
    Content-Length)."""

    def __init__(self, phase: str) -> None:
        self.head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        if phase == "body":
            self.head += b"Content-Length: 1000000\r\n\r\n[{"
        else:
            self.head += b"X-Trickle: "
        super().__init__()

    def serve(self, conn: socket.socket) -> None:
        conn.recv(65536)
        conn.sendall(self.head)
        for _ in range(int(FOR_EVER / TRICKLE)):
            if self.stopped.wait(TRICKLE):
                return
            conn.sendall(b" ")


class Proxy(Listener):
    """A minimal forwarding HTTP proxy (no CONNECT): relays each request to the host its
    absolute URL names and the answer back, byte by byte as it comes."""

    def serve(self, conn: socket.socket) -> None:
        request = conn.recv(65536)
        target = request.split(b" ", 2)[1].split(b"/")[2].decode()  # http://HOST:PORT/path
        host, port = target.rsplit(":", 1)
        with socket.create_connection((host, int(port))) as upstream:
            upstream.sendall(request)
            while not self.stopped.is_set() and (data := upstream.recv(65536)):
                conn.sendall(data)


@pytest.fixture(params=["headers", "body"])
def trickler(request: pytest.FixtureRequest, settings: Any) -> Iterator[Trickler]:
    server = Trickler(request.param)
    settings.POSTMARK_API_URL = server.url
    settings.POSTMARK_TIMEOUT = TIMEOUT
    settings.POSTMARK_MAX_RETRIES = 0
    yield server
    server.stopped.set()


@pytest.fixture
def proxy(monkeypatch: pytest.MonkeyPatch) -> Iterator[Proxy]:
    server = Proxy()
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", server.url)
    yield server
    server.stopped.set()


def send_one() -> EmailMessage:
    message = EmailMessage("s", "b", "from@example.com", ["to@example.com"])
    started = time.monotonic()
    with pytest.raises(PostmarkTimeout, match=r"within 0\.6 s"):
        get_connection().send_messages([message])
    assert time.monotonic() - started < 0.6 + 1.0  # the deadline, and time to notice it
    return message


def test_a_trickled_answer_ends_by_the_deadline(trickler: Trickler) -> None:
    message = send_one()
    assert message.postmark.status == Status.UNKNOWN  # type: ignore[attr-defined]
    assert trickler.connections == 1


def test_a_trickled_answer_through_a_proxy_ends_by_the_deadline(
    trickler: Trickler, proxy: Proxy
) -> None:
    message = send_one()
    assert message.postmark.status == Status.UNKNOWN  # type: ignore[attr-defined]
    assert proxy.connections == 1 and trickler.connections == 1
