"""Queued sending with real worker processes: django-tasks-db's ``db_worker`` on PostgreSQL and
RQ's ``rqworker`` on Redis, each killed with SIGKILL in the middle of a batch and restarted.

Every test runs once per engine: switching the task backend must change nothing else.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from postmark.message import server_label
from postmark.models import Message, QueuedBatch
from postmark.sending.recipients import LINK_KEY
from tests.support.fake_postmark import FakePostmark, Received, Reply, default_reply, serving
from tests.support.worker_marks import ENGINES, WORKER_MARKS
from tests.support.worker_processes import TASK_TABLE, Workers, reset_queues, wait_until

pytestmark = WORKER_MARKS


@pytest.fixture(scope="module")
def worker_database(django_db_setup: None, django_db_blocker: Any) -> str:
    """The test database's name, with the DB task backend's tables added to it."""
    with django_db_blocker.unblock():
        name = str(connection.settings_dict["NAME"])
    Workers("db", name, "http://127.0.0.1:9", Path(".")).run("migrate", "--noinput")
    return name


@pytest.fixture
def stand_in() -> Iterator[FakePostmark]:
    with serving() as fake:
        yield fake


@pytest.fixture(params=ENGINES)
def workers(
    request: Any, worker_database: str, stand_in: FakePostmark, tmp_path: Path
) -> Iterator[Workers]:
    pool = Workers(request.param, worker_database, stand_in.url, tmp_path, batch_size=2)
    with connection.cursor() as cursor:
        reset_queues(cursor.execute, pool.queue)
    try:
        yield pool
    finally:
        pool.close()
        with connection.cursor() as cursor:
            reset_queues(cursor.execute, pool.queue)


class Blocker:
    """A reply that holds the first request until the test lets it go (or kills the worker)."""

    def __init__(self) -> None:
        self.arrived = threading.Event()
        self.release = threading.Event()

    def __call__(self, received: Received) -> Reply:
        self.arrived.set()
        self.release.wait(timeout=60)
        return default_reply(received)


BULK_SCRIPT = """
import sys
import django
django.setup()
from postmark.message import PostmarkEmailMessage
to = [f"reader{n}@example.com" for n in range(int(sys.argv[1]))]
merge_data = {address: {"name": f"R{n}"} for n, address in enumerate(to)}
news = PostmarkEmailMessage("News", "Hi {{name}}", "s@example.com", to, bulk=True)
news.merge_data = merge_data
print(news.send())
"""


SERVERS_SCRIPT = """
import sys
import django
django.setup()
from django.core import mail
from postmark.message import PostmarkEmailMessage
news = PostmarkEmailMessage("News", "Body", "s@example.com", ["reader@example.com"])
news.server_token = sys.argv[1]
plain = PostmarkEmailMessage("Hello", "Body", "s@example.com", ["user@example.com"])
print(mail.get_connection().send_messages([news, plain]))
"""


def batches_in(state: str) -> int:
    return QueuedBatch.objects.filter(state=state).count()


def recipients(fake: FakePostmark) -> Counter[str]:
    return Counter(message["To"] for message in fake.sent_messages)


def test_a_worker_killed_mid_batch_leaves_each_message_sent_once_or_unknown(
    workers: Workers, stand_in: FakePostmark
) -> None:
    blocker = Blocker()
    stand_in.script(blocker)
    assert workers.send(5) == 5  # three batches: 2 + 2 + 1
    first = workers.start()
    assert blocker.arrived.wait(timeout=60), workers.logs()
    # Committed before the request went out: the durable mark that Postmark may have it.
    assert batches_in("sending") == 1
    in_flight = {m["To"] for m in stand_in.sent_messages}

    workers.kill(first)
    blocker.release.set()
    workers.start()  # the restarted worker sends the other batches
    wait_until(lambda: batches_in("sent") == 2, 60, "the other batches", workers)
    assert batches_in("sending") == 1  # nobody sends the abandoned batch again on their own

    # The dead worker's row lock goes with its database connection; recovery then settles it.
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


def _lose_task(engine: str, queue_name: str) -> None:
    """Leave the queue as a worker killed right after taking the task (before the claim) does."""
    if engine == "db":
        with connection.cursor() as cursor:
            cursor.execute(f"UPDATE {TASK_TABLE} SET status = 'RUNNING'")
        return
    import redis
    from rq import Queue
    from rq.job import Job, JobStatus

    from tests.support.worker_processes import REDIS_URL

    queue = Queue(queue_name, connection=redis.Redis.from_url(REDIS_URL))
    for job_id in queue.job_ids:
        job = Job.fetch(job_id, connection=queue.connection)
        queue.remove(job)
        job.set_status(JobStatus.STARTED)


def test_a_batch_whose_worker_died_before_claiming_it_is_enqueued_again_and_sent_once(
    workers: Workers, stand_in: FakePostmark
) -> None:
    assert workers.send(2) == 2
    _lose_task(workers.engine, workers.queue)
    workers.start()
    assert "0 batch(es) marked unknown, 1 enqueued again" in workers.run(
        "postmark_recover", "--stale-after=0"
    )
    wait_until(lambda: batches_in("sent") == 1, 60, "the re-enqueued batch", workers)
    assert recipients(stand_in) == Counter({"user0@example.com": 1, "user1@example.com": 1})
    assert sorted(Message.objects.values_list("status", flat=True)) == ["sent", "sent"]


def test_two_workers_send_every_message_exactly_once(
    workers: Workers, stand_in: FakePostmark
) -> None:
    assert workers.send(40) == 40
    workers.start()
    workers.start()
    wait_until(lambda: batches_in("sent") == 20, 90, "every batch", workers)
    assert recipients(stand_in) == Counter({f"user{n}@example.com": 1 for n in range(40)})
    assert Message.objects.filter(status="sent").count() == 40


def test_a_batch_postmark_refused_for_now_is_sent_by_a_later_attempt(
    workers: Workers, stand_in: FakePostmark
) -> None:
    workers.env["POSTMARK_QUEUE_RETRY_DELAY"] = "0.5"
    stand_in.script(Reply(503, {"ErrorCode": 0, "Message": "Planned maintenance"}))
    assert workers.send(1) == 1
    workers.start()
    wait_until(lambda: batches_in("sent") == 1, 60, "the retried batch", workers)
    assert len(stand_in.requests) == 2
    assert QueuedBatch.objects.get().attempts == 2
    assert list(Message.objects.values_list("status", flat=True)) == ["sent"]


def test_a_bulk_message_goes_as_one_bulk_call_from_the_worker_with_a_log_row_per_recipient(
    workers: Workers, stand_in: FakePostmark
) -> None:
    bulk_id = "5d0c3a56-2f1b-4b7e-9a43-0c8e51d7a6f2"
    stand_in.script(Reply(200, {"ID": bulk_id, "Status": "Accepted"}))
    assert workers.run("30", script=BULK_SCRIPT).strip().splitlines()[-1] == "1"
    workers.start()
    wait_until(lambda: batches_in("sent") == 1, 60, "the bulk batch", workers)
    [request] = stand_in.requests
    assert request.path == "/email/bulk"
    sent = {m["To"]: m for m in request.body["Messages"]}
    assert sent["reader7@example.com"]["TemplateModel"] == {"name": "R7"}
    rows = Message.objects.all()
    assert rows.count() == 30
    assert set(rows.values_list("status", "bulk_request_id")) == {("queued", bulk_id)}
    assert all(str(row.link_id) == sent[row.to]["Metadata"][LINK_KEY] for row in rows)


def test_a_message_for_another_server_goes_from_the_worker_with_that_servers_token(
    workers: Workers, stand_in: FakePostmark
) -> None:
    token = "news-server-token-3d8e1f"
    workers.env["POSTMARK_SERVER_TOKENS"] = f"other-token {token}"
    assert workers.run(token, script=SERVERS_SCRIPT).strip().splitlines()[-1] == "2"
    assert token not in json.dumps(list(QueuedBatch.objects.values()), default=str)
    workers.start()
    wait_until(lambda: batches_in("sent") == 2, 60, "both batches", workers)
    sent_with = {
        message["To"]: request.headers["X-Postmark-Server-Token"]
        for request in stand_in.requests
        for message in stand_in.messages_in([request])
    }
    assert sent_with == {"reader@example.com": token, "user@example.com": "server-token"}
    assert token not in json.dumps(list(QueuedBatch.objects.values()), default=str)
    logged = dict(Message.objects.values_list("to", "server"))
    assert logged == {"reader@example.com": server_label(token), "user@example.com": ""}


def test_queued_messages_are_logged_at_once_and_the_worker_sends_those_same_rows(
    workers: Workers, stand_in: FakePostmark
) -> None:
    assert workers.send(3) == 3  # two batches: 2 + 1, queued by another process
    queued = dict(Message.objects.values_list("pk", "status"))
    assert sorted(queued.values()) == ["queued"] * 3
    assert batches_in("pending") == 2
    workers.start()
    wait_until(lambda: batches_in("sent") == 2, 60, "both batches", workers)
    sent = dict(Message.objects.values_list("pk", "status"))
    assert sent == {pk: "sent" for pk in queued}  # the same rows, no second one
    assert Message.objects.filter(message_id__isnull=False).count() == 3


def test_a_send_postmark_refused_marks_the_queued_rows_failed(
    workers: Workers, stand_in: FakePostmark
) -> None:
    stand_in.script(Reply(422, {"ErrorCode": 300, "Message": "Invalid 'To' address."}))
    assert workers.send(1) == 1
    [pk] = Message.objects.filter(status="queued").values_list("pk", flat=True)
    workers.start()
    wait_until(lambda: batches_in("failed") == 1, 60, "the refused batch", workers)
    row = Message.objects.get()
    assert (row.pk, row.status, row.error_code) == (pk, "failed", 300)
