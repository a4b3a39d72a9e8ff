"""Real task-worker processes for tests/queue/test_workers.py and tests/benchmarks/bench_queued.py.

Every process runs with tests.settings_workers against one PostgreSQL database (and Redis
database 3 for RQ), in its own session so that a kill reaches its children (RQ forks a "work
horse" per job). ``Workers.close()`` kills whatever is still running.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import kombu

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("POSTMARK_WORKER_REDIS_URL", "redis://127.0.0.1:6379/3")
TASK_TABLE = "django_tasks_database_dbtaskresult"

# Queues messages the way an application would: through EMAIL_BACKEND, in a process of its own.
SEND_SCRIPT = """
import sys
import django
django.setup()
from django.core import mail
count, prefix = int(sys.argv[1]), sys.argv[2]
messages = [
    mail.EmailMessage(f"Hello {n}", "Body", "Sender <s@example.com>", [f"{prefix}{n}@example.com"])
    for n in range(count)
]
print(mail.get_connection().send_messages(messages))
"""

WORKER_COMMANDS = {
    "db": ["db_worker", "--interval", "0.05", "--no-startup-delay", "--queue-name", "{queue}"],
    # RQ runs each job in a forked "work horse"; the scheduler runs deferred retries.
    "rq": ["rqworker", "{queue}", "--job-class", "django_tasks_rq.Job", "--with-scheduler"],
}


class Workers:
    """Starts, kills and cleans up worker processes for one task engine ("db" or "rq")."""

    def __init__(
        self,
        engine: str,
        db_name: str,
        api_url: str,
        log_dir: Path,
        *,
        batch_size: int = 500,
        queue: str | None = None,
    ) -> None:
        self.engine = engine
        self.log_dir = log_dir
        self.queue = queue or new_queue_name()
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.settings_workers",
            "PYTHONPATH": str(ROOT),
            "POSTMARK_WORKER_TASKS": engine,
            "POSTMARK_WORKER_DB_NAME": db_name,
            "POSTMARK_WORKER_REDIS_URL": REDIS_URL,
            "POSTMARK_API_URL": api_url,
            "POSTMARK_BATCH_SIZE": str(batch_size),
            "POSTMARK_WORKER_QUEUE": self.queue,
        }
        self.processes: list[subprocess.Popen[bytes]] = []
        self._logs: list[IO[bytes]] = []

    def command(self, number: int) -> list[str]:
        """The command line of the ``number``-th worker process this pool starts."""
        worker = (arg.format(queue=self.queue) for arg in WORKER_COMMANDS[self.engine])
        return [sys.executable, "-m", "django", *worker]

    def start(self) -> subprocess.Popen[bytes]:
        number = len(self.processes)
        log = open(self.log_dir / f"worker-{number}.log", "wb")  # noqa: SIM115
        self._logs.append(log)
        process = subprocess.Popen(
            self.command(number),
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.processes.append(process)
        return process

    def kill(self, process: subprocess.Popen[bytes]) -> None:
        """SIGKILL the worker and every process under it at once: no cleanup code runs.

        RQ's work horse puts itself in a process group of its own, so killing the worker's
        group is not enough: it would finish the job undisturbed.
        """
        if process.poll() is None:
            for pid in [process.pid, *_descendants(process.pid)]:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        process.wait(timeout=10)

    def close(self) -> None:
        for process in self.processes:
            self.kill(process)
        for log in self._logs:
            log.close()

    def run(self, *args: str, script: str | None = None) -> str:
        """Run a management command (or a script) to completion; return its output."""
        command = ["-c", script, *args] if script else ["-m", "django", *args]
        done = subprocess.run(
            [sys.executable, *command],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if done.returncode != 0:
            raise AssertionError(f"{args} failed:\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def send(self, count: int, prefix: str = "user") -> int:
        """Queue ``count`` messages to ``<prefix><n>@example.com`` from a separate process."""
        return int(self.run(str(count), prefix, script=SEND_SCRIPT).strip().splitlines()[-1])

    def logs(self) -> str:
        return "\n".join(
            f"--- {path.name}\n{path.read_text(errors='replace')[-3000:]}"
            for path in sorted(self.log_dir.glob("worker-*.log"))
        )


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended meanwhile
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def new_queue_name() -> str:
    return f"postmark-{uuid.uuid4().hex[:12]}"


def reset_queues(cursor_execute: Callable[[str], object], queue: str) -> None:
    """Empty both engines' queues: the DB backend's task table (the test database is this run's
    own) and this queue's keys in Redis (other runs may share the Redis database)."""
    import redis

    cursor_execute(f"DELETE FROM {TASK_TABLE}")
    connection = redis.Redis.from_url(REDIS_URL)
    keys = list(connection.scan_iter(f"rq:*{queue}*"))
    for job in connection.scan_iter("rq:job:*"):
        if connection.type(job) == b"hash" and connection.hget(job, "origin") == queue.encode():
            job_id = job.decode().rsplit(":", 1)[1]
            keys += [job, f"rq:results:{job_id}", f"rq:executions:{job_id}"]
    if keys:
        connection.delete(*keys)


def wait_until(
    condition: Callable[[], bool], timeout: float, what: str, workers: Workers | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            logs = workers.logs() if workers is not None else ""
            raise AssertionError(f"Timed out after {timeout}s waiting for {what}.\n{logs}")
        time.sleep(0.05)


# --- Celery on RabbitMQ (tests/queue/test_celery_workers.py) -----------------------------------

CELERY_BROKER_URL = os.environ.get(
    "POSTMARK_CELERY_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672//"
)


class CeleryWorkers(Workers):
    """``celery worker`` processes (django-tasks-fennel's app) with tests.settings_celery.

    Each worker runs one prefork child, as a small production worker would, under a node name of
    its own; a kill reaches the child too (see ``Workers.kill``).
    """

    def __init__(
        self,
        db_name: str,
        api_url: str,
        log_dir: Path,
        *,
        result_backend: str = "",
        **options: Any,
    ) -> None:
        super().__init__("celery", db_name, api_url, log_dir, **options)
        self.env["DJANGO_SETTINGS_MODULE"] = "tests.settings_celery"
        # tests.settings_celery replaces the TASKS of its base, which wants a name it knows.
        self.env["POSTMARK_WORKER_TASKS"] = "db"
        self.env["POSTMARK_CELERY_BROKER_URL"] = CELERY_BROKER_URL
        # Empty: no result backend. Workers, senders and postmark_recover all share it.
        self.env["POSTMARK_CELERY_RESULT_BACKEND"] = result_backend

    def command(self, number: int) -> list[str]:
        return [
            *(sys.executable, "-m", "celery", "-A", "django_tasks_fennel.app", "worker"),
            *("--queues", self.queue, "--hostname", f"{self.queue}-{number}@%h"),
            *("--pool", "prefork", "--concurrency", "1", "--loglevel", "INFO"),
            *("--without-gossip", "--without-mingle", "--without-heartbeat"),
        ]

    def purge(self) -> int:
        """Drop every task waiting in this queue, as if a worker had taken them and died;
        return how many there were."""
        with kombu.Connection(CELERY_BROKER_URL) as connection:
            return int(kombu.Queue(self.queue, channel=connection.default_channel).purge() or 0)

    def delete_queue(self) -> None:
        with kombu.Connection(CELERY_BROKER_URL) as connection:
            kombu.Queue(self.queue, channel=connection.default_channel).delete()


def rabbitmq_reachable() -> bool:
    try:
        with kombu.Connection(CELERY_BROKER_URL, connect_timeout=2) as connection:
            connection.ensure_connection(max_retries=1)
    except Exception:  # kombu raises whatever the transport does when nobody answers
        return False
    return True
