"""Sending throughput of PostmarkBackend against hand-written ``requests`` code.

1,000 text+HTML messages with a 2 KB attachment each go to the same loopback stand-in three ways,
interleaved round by round so that machine noise hits all three alike:

- raw:       one ``requests.Session`` posting pre-built JSON in two batches of 500;
- bare:      ``PostmarkBackend.send_messages`` with every default receiver disconnected;
- receivers: the same with the default receivers connected (the Message log into SQLite).

Each is measured against two stand-ins in the same run:

- sandbox: the project's own ``postmark.sandbox`` in a process of its own (it validates every
  message as Postmark does), which is closer to a real server on the other end of a connection.
  The targets (85% with the receivers off, 60% with them on) apply to this one;
- minimal: a bare HTTP server in this process that parses the batch and answers "accepted";
  a stricter setting with no target, since all that is left to compare is client-side Python
  work, and the server's parsing competes with the client for the same interpreter lock.

It prints each throughput (median of the rounds) and the ratios (median of the per-round ratios).
Run it with ``make bench``.
"""

from __future__ import annotations

import gc
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Thread
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django  # noqa: E402

django.setup()

import requests  # noqa: E402
from django.core.mail import EmailMultiAlternatives  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test.utils import override_settings  # noqa: E402

from postmark import signals  # noqa: E402
from postmark.backends import PostmarkBackend  # noqa: E402
from postmark.message import Defaults  # noqa: E402
from postmark.models import Message  # noqa: E402
from postmark.sending.payload import to_payload  # noqa: E402

MESSAGES = 1000
BATCH = 500
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "7"))
ATTACHMENT = bytes(range(256)) * 8  # 2 KB
TARGETS = {"bare": 0.85, "receivers": 0.60}


class StandIn(BaseHTTPRequestHandler):
    """A fast Postmark stand-in: reads the batch, answers one accepted result per message."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        items = body if isinstance(body, list) else [body]
        answer = [
            {
                "To": item.get("To", ""),
                "SubmittedAt": "2026-11-27T10:11:12.1234567-04:00",
                "MessageID": str(uuid.uuid4()),
                "ErrorCode": 0,
                "Message": "OK",
            }
            for item in items
        ]
        data = json.dumps(answer if isinstance(body, list) else answer[0]).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def make_messages() -> list[EmailMultiAlternatives]:
    messages = []
    for i in range(MESSAGES):
        message = EmailMultiAlternatives(
            f"Your receipt #{i}",
            f"Hello customer {i},\n\nthank you for your order.\n",
            "Shop <shop@example.com>",
            [f"Customer {i} <customer{i}@example.com>"],
        )
        message.attach_alternative(f"<p>Hello customer {i},</p><p>thank you.</p>", "text/html")
        message.attach(f"receipt-{i}.pdf", ATTACHMENT, "application/pdf")
        messages.append(message)
    return messages


def run_raw(url: str, batches: list[Any]) -> None:
    """The hand-written baseline: post each pre-built batch, read the results."""
    with requests.Session() as session:
        session.headers.update(
            {
                "Accept": "application/json",
                "Content-Type": "application/json",
                "X-Postmark-Server-Token": "server-token",
            }
        )
        for batch in batches:
            if isinstance(batch, bytes):
                response = session.post(url + "/email/batch", data=batch, timeout=(5, 30))
            else:
                response = session.post(url + "/email/batch", json=batch, timeout=(5, 30))
            response.raise_for_status()
            assert len(response.json()) == BATCH


def run_backend(messages: list[EmailMultiAlternatives]) -> None:
    assert PostmarkBackend().send_messages(messages) == MESSAGES


def timed(action: Callable[[], None]) -> float:
    # Garbage from earlier rounds is collected before, not during, the timed run.
    gc.collect()
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def start_sandbox() -> tuple[subprocess.Popen[bytes], str]:
    """The project's sandbox in its own process; returns it and its URL once it answers."""
    code = (
        "import sys; from postmark.sandbox import Sandbox; s = Sandbox(port=0);"
        "print(s.url, flush=True); s.serve_forever()"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, cwd=ROOT, env=dict(os.environ)
    )
    assert process.stdout is not None
    url = process.stdout.readline().decode().strip()
    requests.get(url + "/", timeout=5).raise_for_status()
    return process, url


def main() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), StandIn)
    Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    minimal_url = f"http://127.0.0.1:{server.server_address[1]}"
    sandbox, sandbox_url = start_sandbox()
    call_command("migrate", verbosity=0)
    try:
        for name, url in (("minimal", minimal_url), ("sandbox", sandbox_url)):
            measure(name, url)
    finally:
        server.shutdown()
        sandbox.terminate()
        sandbox.wait()


def measure(stand_in: str, url: str) -> None:
    Message.objects.all().delete()

    payloads = [to_payload(m, Defaults()) for m in make_messages()]
    # "Pre-built JSON": the message objects, built beforehand, which requests serialises as it
    # posts ("raw"); and, stricter, the request bodies already serialised to bytes ("raw-bytes").
    raw_batches = [payloads[start : start + BATCH] for start in range(0, MESSAGES, BATCH)]
    raw_bodies = [json.dumps(batch).encode() for batch in raw_batches]
    connected = {signal: list(signal.receivers) for signal in (signals.pre_send, signals.post_send)}

    def set_receivers(on: bool) -> None:
        for signal, receivers in connected.items():
            signal.receivers = list(receivers) if on else []
            signal.sender_receivers_cache.clear()

    times: dict[str, list[float]] = {"raw": [], "raw-bytes": [], "bare": [], "receivers": []}
    with override_settings(POSTMARK_API_URL=url):
        for _ in range(ROUNDS):
            times["raw"].append(timed(lambda: run_raw(url, raw_batches)))
            times["raw-bytes"].append(timed(lambda: run_raw(url, raw_bodies)))
            set_receivers(False)
            batch = make_messages()
            times["bare"].append(timed(lambda: run_backend(batch)))  # noqa: B023
            set_receivers(True)
            batch = make_messages()
            times["receivers"].append(timed(lambda: run_backend(batch)))  # noqa: B023
    assert Message.objects.count() == ROUNDS * MESSAGES, "the Message log did not run"

    median = {name: statistics.median(values) for name, values in times.items()}
    # Within a round the four runs follow each other, so a burst of load from elsewhere on the
    # machine hits them alike: the ratios quoted are medians of the per-round ratios.
    rounds = range(ROUNDS)
    ratio = {
        (name, base): statistics.median(times[base][r] / times[name][r] for r in rounds)
        for name in TARGETS
        for base in ("raw", "raw-bytes")
    }
    print(
        f"bench_send ({stand_in} stand-in): {MESSAGES} text+HTML messages with a 2 KB "
        f"attachment, {ROUNDS} rounds"
    )
    for name, seconds in median.items():
        print(
            f"  {name:<10} {MESSAGES / seconds:8.0f} messages/s  (median {seconds * 1000:.0f} ms)"
        )
    for name, target in TARGETS.items():
        paired, strict = ratio[name, "raw"], ratio[name, "raw-bytes"]
        if stand_in == "sandbox":
            verdict = f"(target >= {target:.0%}) {'ok' if paired >= target else 'BELOW TARGET'}"
        else:
            verdict = "(stricter setting, no target)"
        print(f"  {name} / raw = {paired:.0%} {verdict}; {name} / raw-bytes = {strict:.0%}")


if __name__ == "__main__":
    main()
