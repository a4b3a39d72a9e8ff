"""Inbound mail with real worker processes: django-tasks-db's ``db_worker`` on the database and
RQ's ``rqworker`` on Redis take the task the webhook's commit enqueues; each message reaches its
mailbox once, a failing mailbox is retried with backoff by the worker, and a worker killed inside
a mailbox leaves the message to ``postmark_inbound``.

The mail is posted to the real view by another process with the workers' settings
(tests.settings_inbound_workers), as a site's web process would.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from postmark.models import InboundMessage
from tests.inbound.conftest import inbound
from tests.support.worker_marks import ENGINES, WORKER_MARKS
from tests.support.worker_processes import Workers, reset_queues, wait_until

pytestmark = WORKER_MARKS

Status = InboundMessage.Status

# Posts each payload of a JSON file to the inbound webhook through Django's test client, in a
# process of its own: the view keeps each message and its commit enqueues the task.
POST_SCRIPT = """
import json
import sys
import django
django.setup()
from django.test import Client
from tests.support.webhook_helpers import INBOUND_URL, post
for payload in json.load(open(sys.argv[1])):
    print(post(Client(), payload, INBOUND_URL).status_code)
"""


@pytest.fixture(scope="module")
def worker_database(django_db_setup: None, django_db_blocker: Any) -> str:
    """The test database's name, with the DB task backend's tables added to it."""
    with django_db_blocker.unblock():
        name = str(connection.settings_dict["NAME"])
    pool = Workers("db", name, "http://127.0.0.1:9", Path("."))
    pool.env["DJANGO_SETTINGS_MODULE"] = "tests.settings_inbound_workers"
    pool.run("migrate", "--noinput")
    return name


class InboundWorkers(Workers):
    def __init__(self, engine: str, db_name: str, log_dir: Path) -> None:
        super().__init__(engine, db_name, "http://127.0.0.1:9", log_dir)
        self.env["DJANGO_SETTINGS_MODULE"] = "tests.settings_inbound_workers"
        self.mailbox_log = log_dir / "mailbox.log"
        self.mailbox_log.touch()
        self.env["POSTMARK_TEST_MAILBOX_LOG"] = str(self.mailbox_log)

    def post(self, payloads: list[dict[str, Any]]) -> list[int]:
        path = self.log_dir / "payloads.json"
        path.write_text(json.dumps(payloads))
        return [int(line) for line in self.run(str(path), script=POST_SCRIPT).split()]

    def runs(self, what: str) -> Counter[str]:
        """How many times the mailbox started ("start") or ended ("done") each message."""
        lines = self.mailbox_log.read_text().splitlines()
        return Counter(line.split()[1] for line in lines if line.startswith(what + " "))


@pytest.fixture(params=ENGINES)
def workers(request: Any, worker_database: str, tmp_path: Path) -> Iterator[InboundWorkers]:
    pool = InboundWorkers(request.param, worker_database, tmp_path)
    with connection.cursor() as cursor:
        reset_queues(cursor.execute, pool.queue)
    try:
        yield pool
    finally:
        pool.close()
        with connection.cursor() as cursor:
            reset_queues(cursor.execute, pool.queue)


def statuses() -> Counter[str]:
    return Counter(InboundMessage.objects.values_list("status", flat=True))


def test_two_workers_take_every_message_to_its_mailbox_once(workers: InboundWorkers) -> None:
    mail = [inbound(Subject=f"Message {n}") for n in range(8)]
    redelivered = {**mail[0], "Date": "a redelivery with another body"}
    assert workers.post([*mail, mail[1], redelivered]) == [200] * 10
    workers.start()
    workers.start()

    wait_until(lambda: statuses() == {"processed": 8}, 90, "every message", workers)

    expected = Counter({payload["MessageID"]: 1 for payload in mail})
    assert workers.runs("start") == expected and workers.runs("done") == expected
    assert set(InboundMessage.objects.values_list("attempts", flat=True)) == {1}


def test_a_failing_mailbox_is_retried_by_the_worker_with_backoff_until_it_succeeds(
    workers: InboundWorkers,
) -> None:
    payload = inbound(Subject="flaky")
    assert workers.post([payload]) == [200]
    workers.start()

    wait_until(lambda: statuses() == {"processed": 1}, 90, "the flaky message", workers)

    row = InboundMessage.objects.get()
    assert row.attempts == 3 and row.error == "" and row.next_attempt_at is None
    assert workers.runs("start") == {payload["MessageID"]: 3}
    assert workers.runs("done") == {payload["MessageID"]: 1}


def test_a_worker_killed_inside_a_mailbox_leaves_the_message_to_postmark_inbound(
    workers: InboundWorkers,
) -> None:
    payload = inbound(Subject="block")
    assert workers.post([payload]) == [200]
    first = workers.start()
    wait_until(lambda: workers.runs("start"), 60, "the mailbox to start", workers)
    assert statuses() == {"routed": 1}

    workers.kill(first)
    Path(str(workers.mailbox_log) + ".release").touch()
    # The dead worker's row lock goes with its connection; recovery then takes the mail back.
    wait_until(
        lambda: "1 message(s) taken back" in workers.run("postmark_inbound", "--stale-after=0"),
        30,
        "postmark_inbound to take the message back",
    )
    workers.start()

    wait_until(lambda: statuses() == {"processed": 1}, 60, "the message taken back", workers)
    assert workers.runs("start") == {payload["MessageID"]: 2}
    assert workers.runs("done") == {payload["MessageID"]: 1}
    assert InboundMessage.objects.get().attempts == 2
