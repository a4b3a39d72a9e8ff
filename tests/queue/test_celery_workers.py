"""Queued sending on Celery with RabbitMQ (django-tasks-fennel as the Tasks backend), with real
``celery worker`` processes killed with SIGKILL in the middle of a batch. The scenarios are those
of tests/queue/test_workers.py, run here on Celery workers (a lost task is played by purging the
RabbitMQ queue), plus what RabbitMQ adds: a task whose worker died is handed to the next worker,
and never sends a batch that was already claimed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from django.db import connection, transaction

from postmark.models import QueuedBatch
from tests.queue import test_workers as engines
from tests.queue.test_workers import batches_in, recipients, stand_in
from tests.support.fake_postmark import FakePostmark
from tests.support.worker_processes import (
    REDIS_URL,
    CeleryWorkers,
    rabbitmq_reachable,
    wait_until,
)

__all__ = ["stand_in"]  # the fixture, shared with the other engines' tests

# The other engines' marks (PostgreSQL, transactional tests), and a broker to talk to.
pytestmark = [
    *engines.pytestmark,
    pytest.mark.skipif(
        not rabbitmq_reachable(), reason="Celery tests need RabbitMQ on 127.0.0.1:5672"
    ),
]

REDELIVERED_BUT_CLAIMED = "not sent by this task: it is sending"

# Where the workers keep task results. Celery's Redis backend keeps nothing for a task before it
# starts, so django-tasks-fennel reports such a task as unknown; with a key-value store such as
# the filesystem backend it keeps the task's name at enqueue time, and a lost task then reads as
# waiting (READY) for ever.
RESULT_BACKENDS = {
    "none": "",
    "redis": REDIS_URL,
    "filesystem": "file://{tmp_path}/results",
}


@pytest.fixture
def workers(
    request: pytest.FixtureRequest,
    django_db_setup: None,
    django_db_blocker: Any,
    stand_in: FakePostmark,
    tmp_path: Path,
) -> Iterator[CeleryWorkers]:
    """Celery workers, without a result backend unless a test asks for one (its param)."""
    with django_db_blocker.unblock():
        name = str(connection.settings_dict["NAME"])
    result_backend = RESULT_BACKENDS[getattr(request, "param", "none")]
    if result_backend.startswith("file://"):
        result_backend = result_backend.format(tmp_path=tmp_path)
        (tmp_path / "results").mkdir()
    pool = CeleryWorkers(name, stand_in.url, tmp_path, batch_size=2, result_backend=result_backend)
    try:
        yield pool
    finally:
        pool.close()
        pool.delete_queue()
        if result_backend.startswith("redis://"):
            with django_db_blocker.unblock():
                _forget_results(result_backend)


def _forget_results(result_backend: str) -> None:
    """Delete this test's task results and django-tasks-fennel's keys beside them (other runs
    may share the Redis database)."""
    task_ids = QueuedBatch.objects.values_list("task_id", flat=True)
    prefixes = ("celery-task-meta-", "django-tasks-enqueue:", "django-tasks-started-at:")
    keys = [prefix + task_id for task_id in task_ids if task_id for prefix in prefixes]
    if keys:
        redis.Redis.from_url(result_backend).delete(*keys)


def test_a_worker_killed_mid_batch_leaves_each_message_sent_once_or_unknown(
    workers: CeleryWorkers, stand_in: FakePostmark
) -> None:
    engines.test_a_worker_killed_mid_batch_leaves_each_message_sent_once_or_unknown(
        workers, stand_in
    )
    # RabbitMQ gave the killed worker's unacknowledged task to the new worker, which found the
    # batch claimed and left it alone (recovery then marked it unknown).
    wait_until(lambda: REDELIVERED_BUT_CLAIMED in workers.logs(), 30, "the redelivery", workers)
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
        # The database notices a dead client only when it next talks to it: left alone, the
        # waiting UPDATE would still run and commit the claim once the lock is released.
        _terminate(_waiting_backend())
    assert batches_in("pending") == 1
    workers.start()
    wait_until(lambda: batches_in("sent") == 1, 60, "the redelivered task", workers)
    assert recipients(stand_in) == Counter({"user0@example.com": 1, "user1@example.com": 1})
    assert len(stand_in.requests) == 1


# The database session waiting for a lock, and how to end it, on each server the workers run on.
_WAITING = {
    "postgresql": "SELECT pid FROM pg_locks WHERE NOT granted LIMIT 1",
    # The worker's claim, still running: the UPDATE of the batch row, from another session.
    "mysql": "SELECT id FROM information_schema.processlist WHERE id <> CONNECTION_ID() "
    "AND info LIKE 'UPDATE %%postmark_queuedbatch%%' LIMIT 1",
}
_TERMINATE = {"postgresql": "SELECT pg_terminate_backend(%s)", "mysql": "KILL %s"}


def _waiting_backend() -> int | None:
    """The id of the database session waiting for a lock, if one is."""
    with connection.cursor() as cursor:
        cursor.execute(_WAITING[connection.vendor])
        row = cursor.fetchone()
    return int(row[0]) if row else None


def _terminate(session: int | None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(_TERMINATE[connection.vendor], [session])


@pytest.mark.parametrize("workers", list(RESULT_BACKENDS), indirect=True)
def test_a_batch_whose_task_was_lost_is_enqueued_again_by_recovery_and_sent_once(
    workers: CeleryWorkers, stand_in: FakePostmark, monkeypatch: pytest.MonkeyPatch
) -> None:
    def lose_task(engine: str, queue: str) -> None:
        # The task leaves RabbitMQ unacknowledged by anyone, as if its worker took it and died
        # without late acknowledgement.
        assert workers.purge() == 1

    monkeypatch.setattr(engines, "_lose_task", lose_task)
    engines.test_a_batch_whose_worker_died_before_claiming_it_is_enqueued_again_and_sent_once(
        workers, stand_in
    )


def test_two_workers_send_every_message_exactly_once(
    workers: CeleryWorkers, stand_in: FakePostmark
) -> None:
    engines.test_two_workers_send_every_message_exactly_once(workers, stand_in)


def test_a_batch_postmark_refused_for_now_is_sent_by_a_later_attempt(
    workers: CeleryWorkers, stand_in: FakePostmark
) -> None:
    engines.test_a_batch_postmark_refused_for_now_is_sent_by_a_later_attempt(workers, stand_in)
