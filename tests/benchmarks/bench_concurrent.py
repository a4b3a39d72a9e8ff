"""Concurrent API calls (POSTMARK_MAX_CONCURRENT_CALLS): throughput when each call waits.

10,000 text+HTML messages go to a stand-in in a process of its own (a threaded HTTP server, so
that its work never competes with the sender for one interpreter lock) that answers each call
after a fixed wait. Measured in one run, round by round:

- raw:        hand-written sequential ``requests`` code posting pre-built JSON (the message
  objects, built beforehand) in batches of 500 over one session, against the 100 ms stand-in;
- calls=N:    ``PostmarkBackend.send_messages`` with the setting at its default, against the
  100 ms stand-in and against the same stand-in answering at once (0 ms);
- calls=1:    the same with the setting at 1 (one call at a time, as before the setting), at 0 ms
  and at 100 ms.

Each configuration runs with the default receivers off ("bare") and on (the ``Message`` log into
SQLite). Targets: calls=N at 100 ms at least 2.5x raw; calls=N at 100 ms at least 0.85x calls=N at
0 ms (the waits hidden behind the CPU work); calls=N at 0 ms no slower than calls=1 at 0 ms. After
every run the stand-in says how many messages it received and whether any came twice.

Then memory: one send of 100,000 messages (bare, 0 ms), the tracemalloc peak of the send above
what the built messages already hold, and the process's peak RSS (ru_maxrss).

Run it with ``make bench`` or ``python tests/benchmarks/bench_concurrent.py``
(``BENCH_CALLS=8`` compares another setting with 1, ``BENCH_ROUNDS`` sets the rounds).
"""

from __future__ import annotations

import gc
import json
import os
import resource
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Lock
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

from tests.support.fake_postmark import accepted  # noqa: E402  (stdlib only)

MESSAGES = int(os.environ.get("BENCH_MESSAGES", "10000"))
MEMORY_MESSAGES = 100_000
BATCH = 500
WAIT = 0.100
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))


# --- The stand-in (run as ``bench_concurrent.py --serve SECONDS`` in a process of its own) ---


def serve(wait: float) -> None:
    """Answer every batch after ``wait`` seconds; count each recipient received.

    ``GET /count`` answers ``{"messages", "distinct"}`` and starts a new count.
    """
    seen: Counter[str] = Counter()
    lock = Lock()

    class StandIn(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def _answer(self, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            with lock:
                counted = {"messages": sum(seen.values()), "distinct": len(seen)}
                seen.clear()
            self._answer(counted)

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            items = body if isinstance(body, list) else [body]
            with lock:
                seen.update(str(item.get("To")) for item in items)
            time.sleep(wait)
            answer = [accepted(item) for item in items]
            self._answer(answer if isinstance(body, list) else answer[0])

    server = ThreadingHTTPServer(("127.0.0.1", 0), StandIn)
    server.daemon_threads = True
    print(f"http://127.0.0.1:{server.server_address[1]}", flush=True)
    server.serve_forever()


def start_stand_in(wait: float) -> tuple[subprocess.Popen[bytes], str]:
    process = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(wait)], stdout=subprocess.PIPE, cwd=ROOT
    )
    assert process.stdout is not None
    return process, process.stdout.readline().decode().strip()


# --- The sender ------------------------------------------------------------------------------

# The stand-in's process stops here: it needs none of Django.
if __name__ == "__main__" and sys.argv[1:2] == ["--serve"]:
    serve(float(sys.argv[2]))
    raise SystemExit

import django  # noqa: E402

django.setup()

import requests  # noqa: E402
from django.core.mail import EmailMultiAlternatives  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test.utils import override_settings  # noqa: E402

from postmark import signals  # noqa: E402
from postmark.backends import PostmarkBackend  # noqa: E402
from postmark.conf import settings  # noqa: E402
from postmark.message import Defaults  # noqa: E402
from postmark.models import Message  # noqa: E402
from postmark.sending.payload import to_payload  # noqa: E402
from tests.benchmarks.bench_send import run_raw, timed  # noqa: E402

#: The setting's default, or BENCH_CALLS to try another number of calls at once.
DEFAULT_CALLS = int(os.environ.get("BENCH_CALLS", settings.POSTMARK_MAX_CONCURRENT_CALLS))


def make_messages(count: int = MESSAGES) -> list[EmailMultiAlternatives]:
    messages = []
    for i in range(count):
        message = EmailMultiAlternatives(
            f"Your receipt #{i}",
            f"Hello customer {i},\n\nthank you for your order.\n",
            "Shop <shop@example.com>",
            [f"customer{i}@example.com"],
        )
        message.attach_alternative(f"<p>Hello customer {i},</p><p>thank you.</p>", "text/html")
        messages.append(message)
    return messages


def check_received(url: str, expected: int) -> None:
    counted = requests.get(url + "/count", timeout=5).json()
    assert counted == {"messages": expected, "distinct": expected}, counted


def set_receivers(connected: dict[Any, list[Any]], on: bool) -> None:
    for signal, receivers in connected.items():
        signal.receivers = list(receivers) if on else []
        signal.sender_receivers_cache.clear()


def send(url: str, calls: int, messages: list[EmailMultiAlternatives]) -> None:
    with override_settings(POSTMARK_API_URL=url, POSTMARK_MAX_CONCURRENT_CALLS=calls):
        assert PostmarkBackend().send_messages(messages) == len(messages)


def measure(urls: dict[str, str], connected: dict[Any, list[Any]]) -> None:
    payloads = [to_payload(m, Defaults()) for m in make_messages()]
    raw_batches = [payloads[start : start + BATCH] for start in range(0, MESSAGES, BATCH)]
    configs = [
        (receivers, calls, wait)
        for receivers in ("bare", "receivers")
        for calls in (DEFAULT_CALLS, 1)
        for wait in ("100 ms", "0 ms")
    ]
    times: dict[Any, list[float]] = {config: [] for config in configs}
    times["raw"] = []
    for _ in range(ROUNDS):
        times["raw"].append(timed(lambda: run_raw(urls["100 ms"], raw_batches)))
        check_received(urls["100 ms"], MESSAGES)
        for receivers, calls, wait in configs:
            set_receivers(connected, receivers == "receivers")
            batch = make_messages()
            url = urls[wait]
            times[receivers, calls, wait].append(timed(lambda: send(url, calls, batch)))  # noqa: B023
            check_received(url, MESSAGES)
    set_receivers(connected, True)
    assert Message.objects.count() == ROUNDS * MESSAGES * 4, "the Message log did not run"
    Message.objects.all().delete()

    rounds = range(ROUNDS)

    def ratio(faster: Any, slower: Any) -> tuple[float, float, float]:
        # Runs of one round follow each other: a burst of load elsewhere hits them alike.
        ratios = [times[slower][r] / times[faster][r] for r in rounds]
        return statistics.median(ratios), min(ratios), max(ratios)

    print(
        f"bench_concurrent: {MESSAGES:,} text+HTML messages, batches of {BATCH}, stand-in in its "
        f"own process, {ROUNDS} rounds; POSTMARK_MAX_CONCURRENT_CALLS default = {DEFAULT_CALLS}"
    )
    for config, values in times.items():
        name = (
            "raw (sequential requests, 100 ms)"
            if config == "raw"
            else "{}, calls={}, {}".format(*config)
        )
        seconds = statistics.median(values)
        print(f"  {name:<34} {MESSAGES / seconds:8.0f} messages/s  ({seconds * 1000:.0f} ms)")
    for receivers in ("bare", "receivers"):
        checks = [
            (
                "calls=N 100 ms / raw 100 ms",
                ratio((receivers, DEFAULT_CALLS, "100 ms"), "raw"),
                2.5,
            ),
            (
                "calls=N 100 ms / calls=N 0 ms",
                ratio((receivers, DEFAULT_CALLS, "100 ms"), (receivers, DEFAULT_CALLS, "0 ms")),
                0.85,
            ),
            (
                "calls=N 0 ms / calls=1 0 ms",
                ratio((receivers, DEFAULT_CALLS, "0 ms"), (receivers, 1, "0 ms")),
                1.0,
            ),
        ]
        for name, (value, low, high), target in checks:
            verdict = "ok" if value >= target else "BELOW TARGET"
            print(
                f"  {receivers:<9} {name:<30} {value:5.2f}x  (rounds {low:.2f}-{high:.2f}; "
                f"target >= {target}x) {verdict}"
            )


def measure_memory(url: str, connected: dict[Any, list[Any]]) -> None:
    set_receivers(connected, False)
    for calls in (DEFAULT_CALLS, 1):
        gc.collect()
        tracemalloc.start()
        messages = make_messages(MEMORY_MESSAGES)
        built = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        send(url, calls, messages)
        peak = tracemalloc.get_traced_memory()[1] - built
        tracemalloc.stop()
        check_received(url, MEMORY_MESSAGES)
        del messages
        print(
            f"  memory, {MEMORY_MESSAGES:,} messages, calls={calls}: the messages "
            f"{built / 2**20:.0f} MiB; tracemalloc peak of the send {peak / 2**20:.0f} MiB "
            "above them (payloads, request bodies, answers, results)"
        )
    set_receivers(connected, True)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(f"  peak RSS of this process (ru_maxrss, whole benchmark): {rss:.0f} MiB")


def run() -> None:
    processes = {}
    urls = {}
    for name, wait in (("100 ms", WAIT), ("0 ms", 0.0)):
        processes[name], urls[name] = start_stand_in(wait)
    call_command("migrate", verbosity=0)
    connected = {signal: list(signal.receivers) for signal in (signals.pre_send, signals.post_send)}
    try:
        measure(urls, connected)
        measure_memory(urls["0 ms"], connected)
    finally:
        for process in processes.values():
            process.terminate()
            process.wait()


if __name__ == "__main__":
    run()
