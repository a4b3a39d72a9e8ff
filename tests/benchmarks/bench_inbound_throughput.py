"""Inbound mail through the whole stack: 1,000 messages with a 100 KB attachment each, posted
over HTTP to the app served by gunicorn, then routed and processed by a real worker.

    python tests/benchmarks/bench_inbound_throughput.py           # SQLite (a file), PostgreSQL
    python tests/benchmarks/bench_inbound_throughput.py postgres  # any of sqlite, postgres, mysql
    BENCH_BASELINE=/other/checkout python tests/benchmarks/bench_inbound_throughput.py

1. The webhook. One gunicorn process (a sync worker, as ``gunicorn project.wsgi`` starts) serves
   the site: the inbound hook with its default receivers on, a route table, and queued
   processing on django-tasks-db's database backend; and, in the same process, behind the same
   middleware, the *floor*: a view that stores the raw body with one INSERT. The client posts
   each message in a connection of its own (gunicorn's sync worker closes it after each
   answer), and every body is distinct (its MessageID and subject). Rounds alternate between
   the views, each going first in turn; the ratio quoted is the median of the per-round ratios,
   so that load from elsewhere on the machine hits both alike. Aim: at least 0.5x the floor.
   With BENCH_BASELINE, a second gunicorn process serves the hook of that checkout (its
   ``postmark``, the same database) in the same rounds: before and after in one run.
2. The worker. Once every message is queued, one ``db_worker --batch`` process (BENCH_WORKERS
   for more) routes and processes them: four routes, the fourth matching, to a mailbox that
   reads the attachment. Its rate counts from its first claim to its last message processed,
   as the records say, so the process's start-up is left out.

Both use persistent database connections (CONN_MAX_AGE), as a production site does: otherwise
each request would open a connection to PostgreSQL, which costs both views more than the
request itself. POSTMARK_TEST_DB_NAME names the database on a server (default
test_inbound_bench). The app server's CPU per request is read from /proc (Linux).
"""

from __future__ import annotations

import base64
import http.client
import importlib.util
import json
import os
import random
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
MESSAGES = int(os.environ.get("BENCH_MESSAGES", "1000"))
PER_ROUND = 50
WARM_UP = 20
ATTACHMENT_BYTES = 100 * 1024
AIM = 0.5
AUTH = "Basic " + base64.b64encode(b"hook-user:hook-password").decode()
ROUTES = [
    {"mailbox": "billing", "to": "billing@inbound.postmarkapp.com"},
    {"mailbox": "replies", "mailbox_hash": "^reply-"},
    {"mailbox": "abuse", "subject": "(?i)^abuse report"},
    {"mailbox": "bench", "to_pattern": "@inbound\\.postmarkapp\\.com$"},
]


def configure(database: str, name: str) -> None:
    """Django set up as the benchmark's site, on the database ``name`` (for SQLite, its file)."""
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"
    os.environ["POSTMARK_TEST_DATABASE"] = database
    import django
    from django.conf import settings

    # tests.settings has these apps; an older checkout's (BENCH_BASELINE) may not.
    queue_apps = ["django_tasks_db"]
    if not importlib.util.find_spec("django.tasks"):  # Django 5.2: the backport is an app too
        queue_apps.append("django_tasks")
    apps = settings.INSTALLED_APPS
    settings.INSTALLED_APPS = [*apps, *(app for app in queue_apps if app not in apps)]
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    settings.POSTMARK_INBOUND_ROUTES = ROUTES
    settings.ROOT_URLCONF = "__main__"
    settings.DATABASES["default"].update(NAME=name, CONN_MAX_AGE=None)
    django.setup()


# --- The app server (``--serve``): the floor and the app's URLs, in gunicorn -------------------


def floor_view(request: Any) -> Any:
    from django.db import connection
    from django.http import HttpResponse

    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO bench_raw (body) VALUES (%s)", [request.body.decode()])
    return HttpResponse("ok\n")


def serve(code_root: str, database: str, name: str, fd: int) -> None:
    """Serve the site from ``code_root``'s ``postmark`` on the listening socket ``fd``."""
    sys.path[:0] = [code_root, str(ROOT)]
    from gunicorn.app.base import BaseApplication

    class Server(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            options = {"bind": f"fd://{fd}", "workers": 1, "worker_class": "sync"}
            for key, value in {**options, "timeout": 300, "loglevel": "warning"}.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            configure(database, name)
            from django.core.wsgi import get_wsgi_application
            from django.urls import include, path
            from django.views.decorators.csrf import csrf_exempt

            global urlpatterns
            urlpatterns = [
                path("floor/", csrf_exempt(floor_view)),
                path("postmark/", include("postmark.urls")),
            ]
            return get_wsgi_application()

    Server().run()


class AppServer:
    """A gunicorn process serving the site, on a port of its own."""

    def __init__(self, code_root: Path, database: str, name: str) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0), backlog=128)
        self.port = self.listener.getsockname()[1]
        fd = self.listener.fileno()
        command = [sys.executable, __file__, "--serve", str(code_root), database, name, str(fd)]
        self.process = subprocess.Popen(command, cwd=ROOT, pass_fds=[fd])

    def post(self, path: str, body: bytes) -> int:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        try:
            headers = {"Content-Type": "application/json", "Authorization": AUTH}
            connection.request("POST", path, body, headers)
            response = connection.getresponse()
            answer = response.read()
        finally:
            connection.close()
        if response.status != 200:
            raise AssertionError(f"{path}: {response.status} {answer[:300]!r}")
        return response.status

    def cpu_seconds(self) -> float:
        """User and system CPU its worker process has used (gunicorn's arbiter only waits)."""
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0.0
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        for pid in children.read_text().split():
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks
        return total

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)
        self.listener.close()


# --- The worker (``--work``): db_worker with the benchmark's mailbox ------------------------------


def work(database: str, name: str) -> None:
    sys.path.insert(0, str(ROOT))
    configure(database, name)
    from django.core.management import call_command

    from postmark.inbound import InboundMail, mailbox

    @mailbox("bench", weak=False)
    def bench(sender: Any, mail: InboundMail, **kwargs: Any) -> None:
        (attachment,) = mail.attachments
        if len(attachment.content) != ATTACHMENT_BYTES:
            raise RuntimeError(f"the attachment has {len(attachment.content)} bytes")

    call_command("db_worker", "--batch", "--no-startup-delay", "--interval", "0.05", verbosity=0)


# --- The run (a process per database) ----------------------------------------------------------


def bodies(first: int, count: int, content: str) -> list[bytes]:
    from tests.support import webhook_payloads as payloads

    attachment = {"Name": "scan.pdf", "ContentType": "application/pdf", "Content": content}
    return [
        json.dumps(
            payloads.inbound(
                MessageID=str(uuid.uuid4()), Subject=f"Message {n}", Attachments=[attachment]
            )
        ).encode()
        for n in range(first, first + count)
    ]


def child(database: str) -> None:
    sys.path.insert(0, str(ROOT))
    on_server = database in ("postgres", "mysql")
    name = (
        os.environ.get("POSTMARK_TEST_DB_NAME", "test_inbound_bench")
        if on_server
        else os.path.join(tempfile.mkdtemp(prefix="bench_inbound_"), "db.sqlite3")
    )
    os.environ["POSTMARK_TEST_DB_NAME"] = name
    configure(database, name)
    from django.db import connection

    connection.settings_dict["TEST"]["NAME"] = name
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    servers: dict[str, AppServer] = {}
    try:
        with connection.cursor() as cursor:
            key = {"postgresql": "serial", "mysql": "integer AUTO_INCREMENT"}.get(
                connection.vendor, "integer"
            )
            body = "longtext" if connection.vendor == "mysql" else "text"
            cursor.execute(f"CREATE TABLE bench_raw (id {key} PRIMARY KEY, body {body} NOT NULL)")
        connection.close()  # the servers and the worker have the database to themselves
        servers["app"] = AppServer(ROOT, database, name)
        baseline = os.environ.get("BENCH_BASELINE")
        if baseline:
            servers["baseline"] = AppServer(Path(baseline), database, name)
        views = {"floor": ("app", "/floor/"), "hook": ("app", "/postmark/inbound/")}
        if baseline:
            views["baseline"] = ("baseline", "/postmark/inbound/")
        webhook_results = measure_webhooks(servers, views)
        for server in servers.values():
            server.stop()
        servers.clear()
        worker = measure_worker(database, name)
        report(connection.vendor, webhook_results, worker)
    finally:
        for server in servers.values():
            server.stop()
        connection.creation.destroy_test_db(name, verbosity=0)


def measure_webhooks(
    servers: dict[str, AppServer], views: dict[str, tuple[str, str]]
) -> dict[str, Any]:
    content = base64.b64encode(random.randbytes(ATTACHMENT_BYTES)).decode()
    number = 0
    deadline = time.monotonic() + 30
    for server in servers.values():  # each answers once its worker has started
        while True:
            try:
                server.post("/floor/", b"{}")
                break
            except (ConnectionError, AssertionError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
    for server, url in views.values():  # warm up every path (imports, caches)
        for body in bodies(number, WARM_UP, content):
            servers[server].post(url, body)
        number += WARM_UP
    rounds = MESSAGES // PER_ROUND
    seconds: dict[str, list[float]] = {name: [] for name in views}
    cpu: dict[str, float] = dict.fromkeys(views, 0.0)
    for r in range(rounds):
        order = list(views)[r % len(views) :] + list(views)[: r % len(views)]
        for name in order:
            server, url = views[name]
            chunk = bodies(number, PER_ROUND, content)
            number += PER_ROUND
            used, start = servers[server].cpu_seconds(), time.perf_counter()
            for body in chunk:
                servers[server].post(url, body)
            seconds[name].append(time.perf_counter() - start)
            cpu[name] += servers[server].cpu_seconds() - used
    size = len(bodies(0, 1, content)[0])
    return {"seconds": seconds, "cpu": cpu, "rounds": rounds, "size": size}


def measure_worker(database: str, name: str) -> dict[str, Any]:
    from django.db.models import Max, Min
    from django_tasks_db.models import DBTaskResult

    from postmark.models import InboundMessage, WebhookEvent

    kept = InboundMessage.objects.count()
    assert kept == WebhookEvent.objects.count(), "a webhook without its record"
    assert kept == DBTaskResult.objects.count(), "a record without its task"
    workers = int(os.environ.get("BENCH_WORKERS", "1"))
    command = [sys.executable, __file__, "--work", database, name]
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    processes = [subprocess.Popen(command, cwd=ROOT) for _ in range(workers)]
    for process in processes:
        process.wait(timeout=3600)
    now = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = now.ru_utime + now.ru_stime - used.ru_utime - used.ru_stime
    statuses = Counter(InboundMessage.objects.values_list("status", flat=True))
    span = InboundMessage.objects.aggregate(start=Min("claimed_at"), end=Max("processed_at"))
    seconds = (span["end"] - span["start"]).total_seconds()
    return {"workers": workers, "kept": kept, "statuses": statuses, "seconds": seconds, "cpu": cpu}


def report(vendor: str, webhooks: dict[str, Any], worker: dict[str, Any]) -> None:
    seconds, rounds = webhooks["seconds"], webhooks["rounds"]
    total = rounds * PER_ROUND

    def rate(name: str) -> float:
        return total / sum(seconds[name])

    def ratio(name: str) -> tuple[float, float, float]:
        each = [f / h for f, h in zip(seconds["floor"], seconds[name], strict=True)]
        return statistics.median(each), min(each), max(each)

    def cpu_ms(name: str) -> float:
        return webhooks["cpu"][name] / total * 1000

    median, low, high = ratio("hook")
    verdict = "meets" if median >= AIM else "BELOW"
    print(
        f"{vendor:>10}: bodies of {webhooks['size'] / 1024:.0f} KB; floor {rate('floor'):5.0f}/s, "
        f"inbound hook {rate('hook'):5.0f}/s: "
        f"{median:.2f}x the floor (median of {rounds} rounds, {low:.2f}-{high:.2f}; {verdict} "
        f"the {AIM}x aim)\n{'':>12}app server's CPU per request: floor {cpu_ms('floor'):.2f} ms, "
        f"hook {cpu_ms('hook'):.2f} ms"
    )
    if "baseline" in seconds:
        median, low, high = ratio("baseline")
        pairs = zip(seconds["baseline"], seconds["hook"], strict=True)
        print(
            f"{'':>12}baseline hook {rate('baseline'):5.0f}/s: {median:.2f}x the floor "
            f"({low:.2f}-{high:.2f}), CPU {cpu_ms('baseline'):.2f} ms; this hook / baseline: "
            f"{statistics.median(b / h for b, h in pairs):.2f}x"
        )
    done = worker["statuses"].get("processed", 0)
    print(
        f"{'':>12}worker ({worker['workers']} db_worker): {done:,} of {worker['kept']:,} "
        f"messages routed and processed in {worker['seconds']:.1f} s: "
        f"{done / worker['seconds']:.0f}/s, CPU {worker['cpu'] / done * 1000:.2f} ms a message "
        f"(start-up included); statuses {dict(worker['statuses'])}"
    )


def main() -> None:
    databases = sys.argv[1:] or ["sqlite", "postgres"]
    print(
        f"bench_inbound_throughput: {MESSAGES:,} inbound messages per view, a "
        f"{ATTACHMENT_BYTES // 1024} KB attachment each, over HTTP to gunicorn"
    )
    failed = False
    for database in databases:
        result = subprocess.run([sys.executable, __file__, "--child", database], check=False)
        failed |= result.returncode != 0
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    sys.path[0:1] = []  # not this folder: the code root is put first where it is needed
    if sys.argv[1:2] == ["--serve"]:
        serve(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))
    elif sys.argv[1:2] == ["--work"]:
        work(sys.argv[2], sys.argv[3])
    elif sys.argv[1:2] == ["--child"]:
        child(sys.argv[2])
    else:
        main()
