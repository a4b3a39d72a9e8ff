"""Concurrent copies of one webhook, through a real server, store exactly one set of rows.

PostgreSQL and MariaDB/MySQL only: SQLite serialises every writer, so there is no race there to
prove anything on.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings

from postmark import signals
from postmark.models import Bounce, Suppression, WebhookEvent
from tests.support import webhook_payloads as payloads
from tests.support.webhook_helpers import AUTH, failing_receiver

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        settings.DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3",
        reason="concurrency needs PostgreSQL or MariaDB (POSTMARK_TEST_DATABASE=postgres or "
        "mysql); SQLite serialises writers",
    ),
    pytest.mark.django_db(transaction=True),
]

COPIES = 6


def fire_at_once(url: str, bodies: list[bytes]) -> list[tuple[int, str]]:
    """POST every body at the same instant, each on its own connection; (status, text) each."""
    barrier = threading.Barrier(len(bodies))
    results: list[tuple[int, str]] = [(0, "")] * len(bodies)

    def send(index: int, body: bytes) -> None:
        request = urllib.request.Request(
            url,
            data=body,
            method="POST",
            headers={"Content-Type": "application/json", "Authorization": AUTH},
        )
        barrier.wait()
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                results[index] = (response.status, response.read().decode().strip())
        except urllib.error.HTTPError as error:
            results[index] = (error.code, error.read().decode().strip())

    threads = [threading.Thread(target=send, args=(i, b)) for i, b in enumerate(bodies)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@pytest.fixture
def slow_receiver() -> Iterator[None]:
    """Holds the first transaction open, so that the copies certainly overlap it."""

    def receiver(**kwargs: Any) -> None:
        time.sleep(0.3)

    signals.bounce_received.connect(receiver, weak=False)
    yield
    signals.bounce_received.disconnect(receiver)


@pytest.mark.parametrize("slow", [False, True], ids=["fast", "slow-receiver"])
def test_concurrent_copies_of_one_webhook_store_one_set_of_rows(
    server_url: str, request: pytest.FixtureRequest, slow: bool
) -> None:
    if slow:
        request.getfixturevalue("slow_receiver")
    body = json.dumps(payloads.bounce()).encode()

    results = fire_at_once(server_url + "/postmark/bounce/", [body] * COPIES)

    assert sorted(results) == [(200, "duplicate")] * (COPIES - 1) + [(200, "processed")]
    assert WebhookEvent.objects.count() == 1
    assert WebhookEvent.objects.get().attempts == 1
    assert Bounce.objects.count() == 1 and Suppression.objects.count() == 1


def test_concurrent_updates_of_one_bounce_keep_one_row(server_url: str) -> None:
    # Different bodies (Postmark re-sent the bounce with a field changed): each is its own
    # event, but the Bounce and Suppression rows are keyed on ID and address.
    bodies = [json.dumps(payloads.bounce(Details=f"attempt {i}")).encode() for i in range(COPIES)]

    results = fire_at_once(server_url + "/postmark/events/", bodies)

    assert results == [(200, "processed")] * COPIES
    assert WebhookEvent.objects.count() == COPIES
    assert Bounce.objects.count() == 1 and Suppression.objects.count() == 1


def test_concurrent_retries_of_a_failed_event_process_it_once(server_url: str) -> None:
    calls: list[int] = []
    broken = [True]

    def receiver(**kwargs: Any) -> None:
        calls.append(1)
        if broken[0]:
            raise RuntimeError("down")
        time.sleep(0.2)

    signals.delivery_received.connect(receiver, weak=False)
    try:
        url = server_url + "/postmark/events/"
        body = json.dumps(payloads.delivery()).encode()
        assert fire_at_once(url, [body])[0][0] == 500
        broken[0] = False
        calls.clear()

        results = fire_at_once(url, [body] * COPIES)
    finally:
        signals.delivery_received.disconnect(receiver)

    assert sorted(results) == [(200, "duplicate")] * (COPIES - 1) + [(200, "processed")]
    assert len(calls) == 1
    row = WebhookEvent.objects.get()
    assert (row.status, row.attempts, row.error) == ("processed", 2, "")


def test_concurrent_copies_that_all_fail_count_every_attempt(server_url: str) -> None:
    copies = 16
    body = json.dumps(payloads.bounce()).encode()

    with failing_receiver(signals.bounce_received, "down"):
        results = fire_at_once(server_url + "/postmark/bounce/", [body] * copies)

    assert [status for status, _ in results] == [500] * copies
    row = WebhookEvent.objects.get()
    assert (row.status, row.attempts) == ("failed", copies)
