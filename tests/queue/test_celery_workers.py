"""Queued sending on Celery with RabbitMQ (django-tasks-fennel as the Tasks backend), with real
``celery worker`` processes killed with SIGKILL in the middle of a batch: the crash scenarios
tests/queue/test_workers.py proves for the database queue and RQ, plus what RabbitMQ adds (a
task whose worker died is handed to the next worker, and never sends a claimed batch again).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection, transaction

from postmark.models import Message, QueuedBatch
from tests.queue.test_workers import ON_POSTGRES, Blocker, batches_in, recipients, stand_in
from tests.support.fake_postmark import FakePostmark, Reply
from tests.support.worker_processes import CeleryWorkers, rabbitmq_reachable, wait_until

__all__ = ["stand_in"]  # the fixture, shared with the other engines' tests

pytestmark = [
    pytest.mark.worker,
    pytest.mark.postgres,
    pytest.mark.skipif(
        not ON_POSTGRES,
        reason="worker processes share the test database, which needs PostgreSQL: "
        "run with POSTMARK_TEST_DATABASE=postgres",
    ),
    pytest.mark.skipif(
        not rabbitmq_reachable(), reason="Celery tests need RabbitMQ on 127.0.0.1:5672"
    ),
    pytest.mark.django_db(transaction=True),
]

REDELIVERED_BUT_CLAIMED = "not sent by this task: it is sending"


@pytest.fixture
def workers(
    django_db_setup: None, django_db_blocker: Any, stand_in: FakePostmark, tmp_path: Path
) -> Iterator[CeleryWorkers]:
    with django_db_blocker.unblock():
        name = str(connection.settings_dict["NAME"])
    pool = CeleryWorkers(name, stand_in.url, tmp_path, batch_size=2)
    try:
        yield pool
    finally:
        pool.close()
        pool.delete_queue()


def test_a_worker_killed_mid_batch_leaves_each_message_sent_once_or_unknown(
    workers: CeleryWorkers, stand_in: FakePostmark
) -> None:
    blocker = Blocker()
    stand_in.script(blocker)
    assert workers.send(5) == 5  # three batches: 2 + 2 + 1
    first = workers.start()
    assert blocker.arrived.wait(timeout=60), workers.logs()
    assert batches_in("sending") == 1
    in_flight = {m["To"] for m in stand_in.sent_messages}

    workers.kill(first)
    blocker.release.set()
    workers.start()
    wait_until(lambda: batches_in("sent") == 2, 60, "the other batches", workers)
    # RabbitMQ gave the dead worker's unacknowledged task to the new worker, which saw the
    # batch claimed and left it alone.
    wait_until(lambda: REDELIVERED_BUT_CLAIMED in workers.logs(), 30, "the redelivery", workers)
    assert batches_in("sending") == 1

    wait_until(
        lambda: "1 batch(es) marked unknown" in workers.run("postmark_recover", "--stale-after=0"),
        30,
        "postmark_recover to see the abandoned batch",
    )
    assert recipients(stand_in) == Counter({f"user{n}@example.com": 1 for n in range(5)})
    assert len(stand_in.requests) == 3
    logged = {m.to: m.status for m in Message.objects.all()}
    assert logged == {
        f"user{n}@example.com": "unknown" if f"user{n}@example.com" in in_flight else "sent"
        for n in range(5)
    }
    assert "0 batch(es) marked unknown, 0 enqueued again" in workers.run(
        "postmark_recover", "--stale-after=0"
    )
    assert len(stand_in.requests) == 3


def test_a_worker_killed_before_claiming_its_batch_hands_the_task_to_the_next_worker(
    workers: CeleryWorkers, stand_in: FakePostmark
) -> None:
    assert workers.send(2) == 2
    with transaction.atomic():
        # Hold the row so that the worker's claim waits: it has taken the task, claimed nothing.
        QueuedBatch.objects.select_for_update().get()
        first = workers.start()
        wait_until(lambda: _waiting_backend() is not None, 60, "the worker's claim", workers)
        workers.kill(first)
        # PostgreSQL notices a dead client only when it next talks to it: left alone, the
        # waiting UPDATE would still run and commit the claim once the lock is released.
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [_waiting_backend()])
    assert batches_in("pending") == 1
    workers.start()
    wait_until(lambda: batches_in("sent") == 1, 60, "the redelivered task", workers)
    assert recipients(stand_in) == Counter({"user0@example.com": 1, "user1@example.com": 1})
    assert len(stand_in.requests) == 1


def _waiting_backend() -> int | None:
    """The process id of the PostgreSQL backend waiting for a lock, if one is."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pid FROM pg_locks WHERE NOT granted LIMIT 1")
        row = cursor.fetchone()
    return int(row[0]) if row else None


def test_a_batch_whose_task_was_lost_is_enqueued_again_by_recovery_and_sent_once(
    workers: CeleryWorkers, stand_in: FakePostmark
) -> None:
    assert workers.send(2) == 2
    assert workers.purge() == 1  # the task is gone, as if its worker had taken it and died
    workers.start()
    assert "0 batch(es) marked unknown, 1 enqueued again" in workers.run(
        "postmark_recover", "--stale-after=0"
    )
    wait_until(lambda: batches_in("sent") == 1, 60, "the re-enqueued batch", workers)
    assert recipients(stand_in) == Counter({"user0@example.com": 1, "user1@example.com": 1})
    assert sorted(Message.objects.values_list("status", flat=True)) == ["sent", "sent"]


def test_two_workers_send_every_message_exactly_once(
    workers: CeleryWorkers, stand_in: FakePostmark
) -> None:
    assert workers.send(40) == 40
    workers.start()
    workers.start()
    wait_until(lambda: batches_in("sent") == 20, 90, "every batch", workers)
    assert recipients(stand_in) == Counter({f"user{n}@example.com": 1 for n in range(40)})
    assert Message.objects.filter(status="sent").count() == 40


def test_a_batch_postmark_refused_for_now_is_sent_by_a_later_attempt(
    workers: CeleryWorkers, stand_in: FakePostmark
) -> None:
    workers.env["POSTMARK_QUEUE_RETRY_DELAY"] = "0.5"
    stand_in.script(Reply(503, {"ErrorCode": 0, "Message": "Planned maintenance"}))
    assert workers.send(1) == 1
    workers.start()
    wait_until(lambda: batches_in("sent") == 1, 60, "the retried batch", workers)
    assert len(stand_in.requests) == 2
    assert QueuedBatch.objects.get().attempts == 2
    assert list(Message.objects.values_list("status", flat=True)) == ["sent"]
