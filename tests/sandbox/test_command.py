"""``python manage.py postmark_sandbox`` as a real process: starts, answers, stops on SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.support.example_demo import free_port

ROOT = Path(__file__).resolve().parents[2]


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "django", "postmark_sandbox", "--settings=tests.settings", *args]


def test_command_serves_the_api_with_its_token_and_stops_on_sigterm() -> None:
    port = free_port()
    process = subprocess.Popen(
        command(
            "--port",
            str(port),
            "--token",
            "only-this",
            "--webhook-url",
            "http://user:secret@127.0.0.1:9/postmark/bounce/",
        ),
        cwd=ROOT,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
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
        output, _ = process.communicate(timeout=15)
    assert process.returncode == 0
    assert "Postmark sandbox stopped." in output


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
