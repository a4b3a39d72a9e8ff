"""``python manage.py postmark_sandbox`` as a real process: starts, answers, stops on SIGTERM."""

from __future__ import annotations

import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

import pytest
import requests

from tests.support.ports import free_port
from tests.support.sandbox_api import receiving

ROOT = Path(__file__).resolve().parents[2]


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "django", "postmark_sandbox", "--settings=tests.settings", *args]


def start(*args: str) -> subprocess.Popen[str]:
    """The command as a process whose stdout and stderr are one text stream, unbuffered."""
    return subprocess.Popen(
        command(*args),
        cwd=ROOT,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_command_serves_the_api_with_its_token_and_stops_on_sigterm() -> None:
    port = free_port()
    process = start(
        "--port",
        str(port),
        "--token",
        "only-this",
        "--webhook-url",
        "http://user:secret@127.0.0.1:9/postmark/bounce/",
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert f"Postmark sandbox on http://127.0.0.1:{port}" in first
        webhooks = process.stdout.readline()
        assert "127.0.0.1:9/postmark/bounce/" in webhooks and "secret" not in webhooks
        url = f"http://127.0.0.1:{port}/email"
        body = {"From": "a@example.com", "To": "b@example.com", "TextBody": "x"}
        wrong = requests.post(url, json=body, headers={"X-Postmark-Server-Token": "other"})
        assert (wrong.status_code, wrong.json()["ErrorCode"]) == (401, 10)
        right = requests.post(url, json=body, headers={"X-Postmark-Server-Token": "only-this"})
        assert right.json()["ErrorCode"] == 0
        assert "b@example.com" in requests.get(f"http://127.0.0.1:{port}/", timeout=5).text
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=15)
    # Read the rest through the same file object: readline() may already hold later lines in its
    # buffer, which communicate() (reading the pipe's descriptor) would never see.
    output = process.stdout.read()
    assert process.returncode == 0
    assert "Postmark sandbox stopped." in output
    # Given as options, the secrets are on the command line: it says how to keep them off.
    assert "POSTMARK_SANDBOX_TOKEN is not" in output
    assert "POSTMARK_SANDBOX_WEBHOOK_URL is not" in output and "secret" not in output


def test_command_reports_a_port_in_use() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        run = subprocess.run(
            command("--port", str(port)), cwd=ROOT, capture_output=True, text=True, timeout=60
        )
    assert run.returncode == 1
    assert f"Cannot listen on 127.0.0.1:{port}" in run.stderr


@pytest.mark.parametrize("argument", [["--port", "not-a-number"], ["--webhook-delay", "soon"]])
def test_command_refuses_bad_arguments(argument: list[str]) -> None:
    run = subprocess.run(command(*argument), cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 2 and "invalid" in run.stderr


def read_line_with(stream: IO[str], text: str, timeout: float = 20) -> str:
    """The first line of ``stream`` that contains ``text``, waiting at most ``timeout`` (a
    thread reads: a blocked readline must not hang the test)."""
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        for line in stream:
            lines.put(line)
            if text in line:
                return
        lines.put("")  # the process ended

    threading.Thread(target=read, daemon=True).start()
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        try:
            line = lines.get(timeout=left)
        except queue.Empty:
            break
        if text in line:
            return line
        if not line:
            break
    raise AssertionError(f"no line with {text!r} within {timeout} s")


def test_secrets_come_from_the_environment_and_a_refused_webhook_is_printed() -> None:
    port = free_port()
    with receiving() as receiver:
        receiver.statuses = [401] * 4  # the site does not know this password
        hook = receiver.url.replace("http://", "http://postmark:env-hook-password@")
        process = subprocess.Popen(
            command("--port", str(port), "--webhook-delay", "0"),
            cwd=ROOT,
            env=dict(
                os.environ,
                PYTHONUNBUFFERED="1",
                POSTMARK_SANDBOX_TOKEN="env-token",
                POSTMARK_SANDBOX_WEBHOOK_URL=hook,
            ),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert process.stdout is not None and process.stderr is not None
            webhooks = read_line_with(process.stdout, "Webhooks to:")
            assert receiver.url in webhooks and "env-hook-password" not in webhooks
            argv = Path(f"/proc/{process.pid}/cmdline").read_bytes()
            assert b"env-token" not in argv and b"env-hook-password" not in argv

            url = f"http://127.0.0.1:{port}/email"
            body = {"From": "a@example.com", "To": "b@example.com", "TextBody": "x"}
            wrong = requests.post(url, json=body, headers={"X-Postmark-Server-Token": "other"})
            assert wrong.status_code == 401
            right = requests.post(url, json=body, headers={"X-Postmark-Server-Token": "env-token"})
            assert right.json()["ErrorCode"] == 0

            failed = read_line_with(process.stderr, "failed")
            assert "Webhook Delivery" in failed and receiver.url in failed
            assert "401 Unauthorized" in failed and "retry 1 of 3 in 1 s" in failed
            assert "env-hook-password" not in failed
        finally:
            process.send_signal(signal.SIGTERM)
            process.communicate(timeout=15)
    assert receiver.received and receiver.received[0][0] is not None  # it did send the auth


def test_allowed_host_option_adds_a_name() -> None:
    port = free_port()
    process = start("--port", str(port), "--allowed-host", "sandbox.internal")
    try:
        assert process.stdout is not None
        read_line_with(process.stdout, "Postmark sandbox on")
        url = f"http://127.0.0.1:{port}/sandbox/state.json"
        named = requests.get(url, headers={"Host": f"sandbox.internal:{port}"}, timeout=5)
        other = requests.get(url, headers={"Host": f"elsewhere.internal:{port}"}, timeout=5)
        assert (named.status_code, other.status_code) == (200, 421)
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=15)
