"""Never twice at volume (issue 20): 10,000 messages against the sandbox with faults injected,
then settled, and every message counted.

    python tests/benchmarks/bench_settle_faults.py                  # SQLite (a file)
    python tests/benchmarks/bench_settle_faults.py sqlite postgres  # any of sqlite, postgres, mysql
    python tests/benchmarks/bench_settle_faults.py --messages 50 --seed 7 --backend sync

A site sends the messages in requests of random sizes (1 to twice ``--request-size``) through
PostmarkBackend, then through QueuedPostmarkBackend with its worker's task, to the project's
sandbox over HTTP (calls of ``--batch-size`` messages, several at once). A random, seeded share
of the batch calls meets a fault: accepted and then cut off (accept-drop), accepted and answered
500 (accept-500), cut off before it was accepted (drop), or answered 500 or 503 without being
accepted; a 503 is retried by the client, and its retry takes the next fault planned. A
one-message call (``/email``) meets none: that is the path of settling's resends, and a resend
lost too is failed by design ("resent once"), which is not what is measured here.

Settling is the real path, in real time: the task backend holds the tasks the app enqueues
(``send_queued_batch``, ``settle_task`` and the follow-ups each schedules), and a worker loop
runs each when it is due, as a worker would. The sandbox's search lags ``--index-delay``
seconds behind what it accepted, so that the first search of some messages misses;
POSTMARK_SETTLE_NOT_FOUND is "resend" and POSTMARK_SETTLE_NOT_FOUND_AFTER is ``--trust-after``
seconds (it must be longer than the lag). ``manage.py postmark_settle`` then runs as a cron
job would, for whatever the tasks left unknown (nothing, when all is well).

Checked: the sandbox accepted exactly one copy of every message (``Sandbox.copies`` of
POSTMARK_LINK_FIELD); every Message row is "sent" with the MessageID of that copy, a resent row's
copy came after its resend and through ``/email``. Printed: the faults played, the rows by
outcome, the searches, the time taken. The exit status is 1 if any check fails. A 503 on every
one of the client's tries (four in a row; it never came up in the runs recorded) would be a
refusal for certain, a message not sent, and would fail the run.
"""

from __future__ import annotations

import argparse
import io
import math
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
FAULT_KINDS = {"accept-drop": 2, "accept-500": 2, "drop": 2, "500": 1, "503": 1}
BACKENDS = {
    "sync": "postmark.backends.PostmarkBackend",
    "queued": "postmark.backends.QueuedPostmarkBackend",
}
DATABASES = ("sqlite", "postgres", "mysql")


def arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("databases", nargs="*", help=f"any of {', '.join(DATABASES)}")
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=None, help="default: a random one, printed")
    parser.add_argument("--backend", choices=["sync", "queued", "both"], default="both")
    parser.add_argument("--batch-size", type=int, default=50, help="POSTMARK_BATCH_SIZE")
    parser.add_argument("--request-size", type=int, default=200, help="mean messages a request")
    parser.add_argument("--fault-share", type=float, default=0.3, help="of the batch calls")
    parser.add_argument("--index-delay", type=float, default=2.0, help="the search's lag, s")
    parser.add_argument("--trust-after", type=float, default=5.0, help="NOT_FOUND_AFTER, s")
    parser.add_argument(
        "--settler",
        choices=["task", "cron"],
        default="task",
        help="settle_task as the app schedules it, or manage.py postmark_settle after each request",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if not set(args.databases) <= set(DATABASES):
        parser.error(f"the databases are {', '.join(DATABASES)}")
    if args.trust_after <= args.index_delay:
        # Believing "not found" before the search shows what was accepted resends it: a site
        # must not configure that, and nothing here would be proved by it.
        parser.error("--trust-after must be longer than --index-delay")
    return args


def main(argv: list[str]) -> int:
    args = arguments(argv)
    if args.child:
        return child(args)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(10**6)
    databases = args.databases or [os.environ.get("POSTMARK_TEST_DATABASE", "sqlite")]
    failed = 0
    for database in databases:
        # A process per database: tests.settings chooses it when Django starts. The last
        # --seed given is the one argparse keeps: every database gets the same faults.
        command = [sys.executable, __file__, *argv, "--seed", str(seed), "--child", database]
        env = {**os.environ, "POSTMARK_TEST_DATABASE": database}
        failed += subprocess.run(command, env=env, cwd=ROOT, check=False).returncode != 0
    return 1 if failed else 0


def child(args: argparse.Namespace) -> int:
    sys.path.insert(0, str(ROOT))
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"
    import django

    django.setup()
    from django.db import connection

    if args.child == "sqlite":
        name = os.path.join(tempfile.mkdtemp(prefix="bench_settle_faults_"), "db.sqlite3")
    else:
        name = os.environ.get("POSTMARK_TEST_DB_NAME", "test_settle_bench")
    connection.settings_dict["TEST"]["NAME"] = name
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    print(
        f"bench_settle_faults: {args.messages:,} messages on {connection.vendor}, seed "
        f"{args.seed}; calls of {args.batch_size}, a fault on {args.fault_share:.0%} of the "
        f"batch calls; search lag {args.index_delay:g} s, not found trusted after "
        f"{args.trust_after:g} s",
        flush=True,
    )
    try:
        backends = ["sync", "queued"] if args.backend == "both" else [args.backend]
        results = [
            run(BACKENDS[name], args, random.Random(f"{args.seed}-{name}")) for name in backends
        ]
    finally:
        connection.creation.destroy_test_db(name, verbosity=0)
        if args.child == "sqlite":
            os.rmdir(os.path.dirname(name))  # the file went with the database
    return 0 if all(results) else 1


def run(backend: str, args: argparse.Namespace, rng: random.Random) -> bool:
    """One backend's run: send, settle, check, print; whether every check passed."""
    from django.conf import settings
    from django.core.mail import get_connection
    from django.test.utils import override_settings

    from postmark.message import PostmarkEmailMessage
    from postmark.models import Message, QueuedBatch
    from postmark.queue.tasks_api import task_backends
    from postmark.sandbox import Sandbox
    from tests.support.queued_sending import DUMMY

    sizes = request_sizes(args.messages, args.request_size, rng)
    calls = sum(math.ceil(size / args.batch_size) for size in sizes)
    plan = [
        rng.choices(list(FAULT_KINDS), list(FAULT_KINDS.values()))[0]
        if rng.random() < args.fault_share
        else None
        for _ in range(calls)
    ]
    Message.objects.all().delete()
    QueuedBatch.objects.all().delete()
    with (
        Sandbox() as sandbox,
        override_settings(
            POSTMARK_API_URL=sandbox.url,
            POSTMARK_BATCH_SIZE=args.batch_size,
            POSTMARK_RETRY_BACKOFF=0,
            POSTMARK_QUEUE_RETRY_DELAY=0,
            POSTMARK_SETTLE_AFTER=0,
            POSTMARK_SETTLE_NOT_FOUND="resend",
            POSTMARK_SETTLE_NOT_FOUND_AFTER=args.trust_after,
            TASKS={"default": {"BACKEND": DUMMY}},
        ),
    ):
        # A one-message call (/email, how settling resends) is answered as usual.
        sandbox.faults.paths = frozenset({"/email/batch"})
        sandbox.faults.plan(plan)
        sandbox.faults.index_delay = args.index_delay
        queue: Any = task_backends["default"]  # the dummy backend: it keeps its tasks
        queue.clear()
        searches = count_searches()
        started = time.perf_counter()
        sent = tasks = sweeps = 0
        cron = args.settler == "cron"
        for size in sizes:
            batch = [
                PostmarkEmailMessage(
                    f"Receipt {n}", f"Hello {n}", "Shop <shop@example.com>", [f"u{n}@example.com"]
                )
                for n in range(sent, sent + size)
            ]
            get_connection(backend, fail_silently=True).send_messages(batch)
            sent += size
            tasks += work(queue, wait=False, cron=cron)  # a worker keeping up with the site
            sweeps += sweep(None) if cron else 0
        requests_done = time.perf_counter()
        tasks += work(queue, wait=True, cron=cron)
        left = Message.objects.filter(status="unknown").count()
        sweeps += sweep(time.monotonic() + 4 * args.trust_after + 60)
        settled = time.perf_counter()
        copies = sandbox.copies(settings.POSTMARK_LINK_FIELD)
        accepted = {m.metadata[settings.POSTMARK_LINK_FIELD]: m for m in sandbox.messages}
        applied = dict(sandbox.faults.applied)
    rows = list(
        Message.objects.values_list(
            "link_id", "status", "message_id", "settlement", "resent_at", "error"
        )
    )
    problems = check(rows, copies, accepted, args.messages)
    outcomes = Counter(settlement or "answered at the send" for _, _, _, settlement, _, _ in rows)
    found_first = sum(1 for history in searches.values() if history[0])
    found_later = sum(1 for history in searches.values() if not history[0] and any(history))
    label = backend.rsplit(".", 1)[1]
    print(
        f"  {label}: {len(sizes)} requests, about {calls} batch calls; faults played: "
        + ", ".join(f"{kind} {applied.get(kind, 0)}" for kind in FAULT_KINDS),
        f"\n    time: {requests_done - started:.1f} s for the requests (the worker keeping up), "
        f"{settled - requests_done:.1f} s more until settled, {settled - started:.1f} s in all; "
        f"{tasks} tasks run, {left} rows left unknown by them, {sweeps} postmark_settle runs",
        f"\n    searches: {sum(len(h) for h in searches.values()):,} for {len(searches):,} "
        f"messages: found at the first {found_first:,}, after a miss (the index's lag) "
        f"{found_later:,}, never (resent) {len(searches) - found_first - found_later:,}",
        "\n    rows: " + ", ".join(f"{name} {count:,}" for name, count in outcomes.most_common()),
        f"\n    checks: {'ok' if not problems else 'FAILED'} (one copy each, every row sent "
        "with its copy's MessageID)",
        sep="",
        flush=True,
    )
    for problem in problems[:20]:
        print(f"      {problem}")
    return not problems


def request_sizes(total: int, mean: int, rng: random.Random) -> list[int]:
    """How many messages each of the site's requests sends: 1 to twice ``mean``, ``total``
    in all."""
    sizes = []
    while total > 0:
        sizes.append(min(total, rng.randint(1, 2 * mean - 1)))
        total -= sizes[-1]
    return sizes


def count_searches() -> dict[str, list[bool]]:
    """Every search the app makes from now on, by link id: whether each found its message."""
    from postmark.client.messages import MessageEndpoints

    history: dict[str, list[bool]] = {}
    search = MessageEndpoints.search_outbound
    if hasattr(search, "counted"):
        search = search.counted  # type: ignore[attr-defined]

    def counted(self: Any, **query: Any) -> dict[str, Any]:
        answer = search(self, **query)
        link_id = query["metadata"][1]
        history.setdefault(link_id, []).append(bool(answer.get("Messages")))
        return answer

    counted.counted = search  # type: ignore[attr-defined]
    MessageEndpoints.search_outbound = counted  # type: ignore[method-assign]
    return history


def work(queue: Any, *, wait: bool, cron: bool) -> int:
    """Run the queue's tasks as a worker would, each once it is due, in the order they were
    enqueued, until none is due (``wait``: waiting for the next until none is left); how many
    ran. With ``cron``, settling is left to ``sweep``: its tasks are dropped."""
    from django.utils import timezone

    ran = 0
    while queue.results:
        now = timezone.now()
        due = next(
            (i for i, r in enumerate(queue.results) if (r.task.run_after or now) <= now), None
        )
        if due is None and not wait:
            break
        if due is None:
            wait_for = min(r.task.run_after for r in queue.results) - now
            time.sleep(min(max(wait_for.total_seconds(), 0.01), 1.0))
            continue
        result = queue.results.pop(due)
        if cron and result.task.name == "settle_task":
            continue
        result.task.call(*result.args, **result.kwargs)
        ran += 1
    return ran


def sweep(deadline: float | None) -> int:
    """``manage.py postmark_settle`` as cron runs it: once, or every half second until no row is
    unknown or ``deadline`` (``time.monotonic``) passes; how many runs."""
    from django.core.management import call_command

    from postmark.models import Message

    runs = 0
    while Message.objects.filter(status="unknown").exists():
        call_command("postmark_settle", stdout=io.StringIO())
        runs += 1
        if deadline is None or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    return runs


def check(
    rows: list[tuple[Any, ...]], copies: Counter[str], accepted: dict[str, Any], expected: int
) -> list[str]:
    """What is wrong: a message not sent exactly once, or a row that does not say so."""
    problems = []
    if len(rows) != expected:
        problems.append(f"{len(rows)} rows for {expected} messages")
    problems += [f"{link}: {count} copies" for link, count in copies.items() if count != 1]
    for link_id, status, message_id, settlement, resent_at, error in rows:
        link = str(link_id)
        copy = accepted.get(link)
        if copy is None:
            problems.append(f"{link}: never accepted; row {status} {settlement!r}: {error}")
        elif status != "sent" or str(message_id) != copy.message_id:
            problems.append(f"{link}: row {status} {message_id}, copy {copy.message_id}: {error}")
        elif settlement == "resent" and (
            resent_at is None or copy.submitted_at < resent_at or copy.endpoint != "/email"
        ):
            problems.append(f"{link}: resent at {resent_at}, copy {copy.submitted_at}")
    rows_of = {str(row[0]) for row in rows}
    problems += [f"{link}: a copy with no row" for link in copies if link not in rows_of]
    return problems


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
