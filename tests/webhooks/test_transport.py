"""Request bodies as they arrive on a real socket (issue 9, item 6): chunked bodies without a
Content-Length, and bodies shorter than the length they declare.

Django's test client cannot send either, so these speak raw HTTP to a real server: gunicorn (it
decodes chunked requests and says so with ``wsgi.input_terminated``) and Django's own WSGI
server (which does not decode them).
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import webhook_payloads as payloads
from tests.support.ports import free_port
from tests.support.webhook_helpers import AUTH

LIMIT = 20_000


def chunked(body: bytes, size: int = 1000) -> bytes:
    pieces = [body[i : i + size] for i in range(0, len(body), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"


def raw_post(port: int, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
    """POST exactly these bytes, close our side, and read the whole answer."""
    head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    request = (
        "POST /postmark/bounce/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        f"Content-Type: application/json\r\nAuthorization: {AUTH}\r\n{head}\r\n"
    ).encode() + body
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        sock.sendall(request)
        sock.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    status_line, _, rest = answer.partition(b"\r\n")
    return int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2]


@pytest.fixture(scope="module")
def gunicorn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path]]:
    """gunicorn serving the test project on its own SQLite file: (port, database path)."""
    try:
        import gunicorn  # noqa: F401
    except ImportError:
        pytest.skip("gunicorn is not installed (pip install gunicorn): chunked bodies untested")
    database = tmp_path_factory.mktemp("gunicorn") / "db.sqlite3"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "POSTMARK_TEST_DATABASE": "sqlite",
        "POSTMARK_TEST_SQLITE": str(database),
        "WEBHOOK_MAX_BYTES": str(LIMIT),
    }
    subprocess.run([sys.executable, "-m", "django", "migrate", "-v0"], env=env, check=True)
    port = free_port()
    command = [sys.executable, "-m", "gunicorn", "-b", f"127.0.0.1:{port}", "-w", "1"]
    command.append("tests.webhooks.wsgi_app:application")
    server = subprocess.Popen(command, env=env, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        yield port, database
    finally:
        server.terminate()
        server.wait(timeout=10)


def stored(database: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(database) as db:
        return db.execute("SELECT status, body FROM postmark_webhookevent").fetchall()


def test_a_chunked_body_without_content_length_is_read_and_processed(
    gunicorn: tuple[int, Path],
) -> None:
    port, database = gunicorn
    body = json.dumps(payloads.bounce(ID=7001, Details="d" * 5000)).encode()

    status, answer = raw_post(port, {"Transfer-Encoding": "chunked"}, chunked(body))

    assert (status, answer) == (200, b"processed\n")
    assert ("processed", body.decode()) in stored(database)


def test_a_chunked_body_over_the_limit_gets_413(gunicorn: tuple[int, Path]) -> None:
    port, database = gunicorn
    body = json.dumps(payloads.bounce(ID=7002, Details="d" * LIMIT)).encode()

    status, answer = raw_post(port, {"Transfer-Encoding": "chunked"}, chunked(body))

    assert status == 413 and b"POSTMARK_WEBHOOK_MAX_BYTES" in answer
    assert all(b'"ID": 7002' not in row[1].encode() for row in stored(database))


def test_a_body_shorter_than_its_content_length_gets_400_under_gunicorn(
    gunicorn: tuple[int, Path],
) -> None:
    port, database = gunicorn
    body = json.dumps(payloads.bounce(ID=7003)).encode()

    status, answer = raw_post(port, {"Content-Length": str(len(body) + 10)}, body)

    assert (status, answer) == (400, b"body shorter than its Content-Length\n")
    assert all(b'"ID": 7003' not in row[1].encode() for row in stored(database))


def test_a_body_shorter_than_its_content_length_gets_400_under_djangos_server(
    server_url: str,
) -> None:
    body = json.dumps(payloads.bounce()).encode()

    status, answer = raw_post(
        int(server_url.rsplit(":", 1)[1]), {"Content-Length": str(len(body) + 1)}, body
    )

    assert (status, answer) == (400, b"body shorter than its Content-Length\n")


def test_a_chunked_body_a_server_cannot_decode_gets_411_not_an_empty_body(
    server_url: str,
) -> None:
    body = json.dumps(payloads.bounce()).encode()

    status, answer = raw_post(
        int(server_url.rsplit(":", 1)[1]), {"Transfer-Encoding": "chunked"}, chunked(body)
    )

    assert status == 411 and answer.startswith(b"Content-Length required")
