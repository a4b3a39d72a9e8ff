"""Benchmark: queued sending (QueuedPostmarkBackend) against synchronous sending.

Measures, for the database task backend (PostgreSQL) and RQ (Redis):
  1. what a request that sends 1,000 messages costs the caller, per message, queued and
     synchronous, against a loopback Postmark stand-in answering at once and after 250 ms per
     API call (a rough figure for Postmark over the internet): the ratio is what a user waits;
  2. end-to-end throughput (from the commit that enqueues 10,000 messages to the last batch
     settled, each message sent and logged) with one and two worker processes.
It prints measurements, asserts nothing about time. Needs PostgreSQL on 127.0.0.1:5432 and Redis
on 127.0.0.1:6379 (database 3); it creates and drops its own database, test_tasks_bench.

    .venv/bin/python tests/benchmarks/bench_queued.py
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
DB_NAME = "test_tasks_bench"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings_workers")
os.environ["POSTMARK_WORKER_DB_NAME"] = DB_NAME
QUEUE = os.environ.setdefault("POSTMARK_WORKER_QUEUE", f"postmark-bench-{os.getpid()}")

from django.core import mail  # noqa: E402
from django.http import HttpRequest, HttpResponse  # noqa: E402
from django.urls import path  # noqa: E402

SYNC = "postmark.backends.PostmarkBackend"
QUEUED = "postmark.backends.QueuedPostmarkBackend"
REQUEST_SIZE = 1_000
THROUGHPUT_SIZE = 10_000


def send_view(request: HttpRequest) -> HttpResponse:
    """What an application's view does: send 1,000 messages through the configured backend."""
    messages = [
        mail.EmailMessage(f"Hello {n}", "Body", "Sender <s@example.com>", [f"u{n}@example.com"])
        for n in range(int(request.GET["count"]))
    ]
    sent = mail.get_connection(request.GET["backend"]).send_messages(messages)
    return HttpResponse(str(sent))


urlpatterns = [path("send/", send_view)]


def main() -> None:
    import django
    import psycopg

    admin = psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres", autocommit=True)
    admin.execute(f"DROP DATABASE IF EXISTS {DB_NAME}")
    admin.execute(f"CREATE DATABASE {DB_NAME}")
    try:
        django.setup()
        run()
    finally:
        from django.db import connections

        connections.close_all()
        admin.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        admin.close()


def run() -> None:
    from django.core.management import call_command
    from django.test import Client
    from django.test.utils import override_settings

    from tests.support.fake_postmark import FakePostmark, Received, Reply, start

    class SlowPostmark(FakePostmark):
        latency = 0.0

        def answer(self, received: Received) -> Reply:
            reply = super().answer(received)
            reply.delay = self.latency
            return reply

    call_command("migrate", verbosity=0)
    fake = SlowPostmark()
    server, _ = start(fake)
    client = Client()
    print(f"bench_queued: {REQUEST_SIZE:,} messages per request, Postmark stand-in on loopback")
    try:
        with override_settings(POSTMARK_API_URL=fake.url, ROOT_URLCONF=__name__):
            for latency in (0.0, 0.25):
                fake.latency = latency
                sync = timed_request(client, SYNC)
                print(f"  stand-in answers after {latency * 1000:.0f} ms per API call:")
                print(f"    synchronous PostmarkBackend: {sync * 1000:8.1f} ms per request")
                for engine in ("db", "rq"):
                    with override_settings(TASKS=tasks_setting(engine)):
                        queued = timed_request(client, QUEUED)
                        per_message = queued / REQUEST_SIZE * 1e6
                        print(
                            f"    queued, {engine} task backend: {queued * 1000:8.1f} ms per req."
                            f" ({per_message:.0f} us per message), {queued / sync:.3f} of the"
                            f" synchronous time (x{sync / queued:.1f} faster)"
                        )
                    clear()
            fake.latency = 0.0
            print(f"  end to end, {THROUGHPUT_SIZE:,} messages, stand-in answering at once:")
            for engine in ("db", "rq"):
                with override_settings(TASKS=tasks_setting(engine)):
                    rates = {count: throughput(engine, count, fake.url) for count in (1, 2)}
                print(
                    f"    {engine} task backend: {rates[1]:7.0f} msg/s with one worker,"
                    f" {rates[2]:7.0f} msg/s with two (x{rates[2] / rates[1]:.2f})"
                )
    finally:
        server.shutdown()
        server.server_close()


def tasks_setting(engine: str) -> dict[str, Any]:
    from django.conf import settings

    return {"default": settings.TASK_BACKENDS[engine]}


def timed_request(client: Any, backend: str, repeat: int = 5) -> float:
    """Median seconds for a request whose view sends REQUEST_SIZE messages (after a warm-up)."""
    times = []
    for _ in range(repeat + 1):
        started = time.perf_counter()
        response = client.get("/send/", {"backend": backend, "count": REQUEST_SIZE})
        times.append(time.perf_counter() - started)
        assert response.status_code == 200 and response.content == str(REQUEST_SIZE).encode()
        clear()
    return statistics.median(times[1:])


def clear() -> None:
    from django.db import connection

    from postmark.models import Message, QueuedBatch
    from tests.support.worker_processes import reset_queues

    with connection.cursor() as cursor:
        reset_queues(cursor.execute, QUEUE)
    QueuedBatch.objects.all().delete()
    Message.objects.all().delete()


def throughput(engine: str, worker_count: int, api_url: str) -> float:
    """Messages per second from the commit that queues them until every batch is settled."""
    from django.db import transaction

    from postmark.models import QueuedBatch
    from tests.support.worker_processes import Workers, wait_until

    clear()
    with TemporaryDirectory() as logs:
        workers = Workers(engine, DB_NAME, api_url, Path(logs), queue=QUEUE)
        try:
            for _ in range(worker_count):
                workers.start()
            # Warm up: each worker process has booted Django once it has sent something.
            mail.get_connection(QUEUED).send_messages(
                [mail.EmailMessage("Warm-up", "Body", to=[f"w{n}@example.com"]) for n in range(1)]
            )
            sent = QueuedBatch.objects.filter(state="sent")
            wait_until(lambda: sent.count() == 1, 60, "warm-up", workers)
            time.sleep(1.0)  # let the second worker finish booting too
            clear()
            # Queue everything in one transaction, so that the tasks reach the workers together
            # when it commits: the clock measures the workers, not the caller (measured above).
            with transaction.atomic():
                for start in range(0, THROUGHPUT_SIZE, REQUEST_SIZE):
                    mail.get_connection(QUEUED).send_messages(
                        [
                            mail.EmailMessage("Hello", "Body", to=[f"u{start + n}@example.com"])
                            for n in range(REQUEST_SIZE)
                        ]
                    )
                started = time.perf_counter()
            batches = THROUGHPUT_SIZE // 500
            wait_until(
                lambda: QueuedBatch.objects.filter(state="sent").count() == batches,
                300,
                "every batch",
                workers,
            )
            elapsed = time.perf_counter() - started
        finally:
            workers.close()
    clear()
    return THROUGHPUT_SIZE / elapsed


if __name__ == "__main__":
    main()
