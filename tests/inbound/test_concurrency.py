"""Concurrency on a real database server: copies of one message arriving at once keep one
record, workers racing for one message process it once, and recovery never takes a message a
live worker holds.

PostgreSQL and MariaDB/MySQL only: SQLite serialises every writer, so there is no race there to
prove anything on.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client

from postmark.inbound import InboundMail, process, process_pending
from postmark.models import InboundMessage, WebhookEvent
from tests.inbound.conftest import Mailboxes, inbound, record
from tests.support.webhook_helpers import INBOUND_URL, post

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        settings.DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3",
        reason="concurrency needs PostgreSQL or MariaDB (POSTMARK_TEST_DATABASE=postgres or "
        "mysql); SQLite serialises writers",
    ),
    pytest.mark.django_db(transaction=True),
]

Status = InboundMessage.Status
COPIES = 6


def at_once(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run every call at the same instant, each in a thread (and database connection) of its
    own; what each returned."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(index: int, call: Callable[[], Any]) -> None:
        barrier.wait()
        try:
            results[index] = call()
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=item) for item in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def slowly(mail: InboundMail) -> None:
    time.sleep(0.3)  # holds the row's lock while the others try


def test_copies_of_one_message_with_different_bodies_keep_one_record(
    routes: Any, kept_tasks: Any
) -> None:
    payload = inbound()
    bodies = [{**payload, "Date": f"copy {n}"} for n in range(COPIES)]

    answers = at_once([lambda b=b: post(Client(), b, INBOUND_URL).status_code for b in bodies])

    assert answers == [200] * COPIES
    assert InboundMessage.objects.count() == 1 and WebhookEvent.objects.count() == COPIES
    assert record(payload).status == Status.RECEIVED


def test_workers_racing_for_one_message_process_it_once(
    routes: Any, kept_tasks: Any, mailboxes: Mailboxes
) -> None:
    mailboxes.actions["everything"] = slowly
    payload = inbound()
    post(Client(), payload, INBOUND_URL)
    key = record(payload).message_id

    outcomes = at_once([lambda: process(key).status] * COPIES)

    # One took it; each of the others found it another worker's (or already processed), and
    # left it.
    assert Status.PROCESSED in outcomes and set(outcomes) <= {Status.PROCESSED, Status.ROUTED}
    assert mailboxes.names() == ["everything"] and record(payload).attempts == 1


def test_recovery_leaves_alone_a_message_a_live_worker_holds(
    routes: Any, kept_tasks: Any, mailboxes: Mailboxes
) -> None:
    started = threading.Event()

    def hold(mail: InboundMail) -> None:
        started.set()
        time.sleep(0.5)

    mailboxes.actions["everything"] = hold
    payload = inbound()
    post(Client(), payload, INBOUND_URL)
    key = record(payload).message_id

    def recover() -> Any:
        assert started.wait(10)
        return process_pending(stale_after=0, here=True)

    worker, recovered = at_once([lambda: process(key), recover])

    assert worker.status == Status.PROCESSED and recovered["taken_back"] == 0
    assert mailboxes.names() == ["everything"] and record(payload).attempts == 1
