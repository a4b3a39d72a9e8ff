"""The example project as ``make demo`` runs it: real sandbox, worker and site processes on free
ports with a temporary SQLite database, driven over HTTP as a browser would (without one)."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.support.example_demo import (
    BOUNCE_TESTING,
    DEMO,
    Demo,
    example_env,
    running_demo,
)
from tests.support.ports import free_port

# checkout: the example project is not in the wheel (make test-wheel leaves this out).
pytestmark = [pytest.mark.worker, pytest.mark.checkout, pytest.mark.example]

MANAGE = DEMO.parent / "manage.py"


def send_from_page(demo: Demo, session: requests.Session, **fields: str) -> str:
    """Submit the page's form (with its CSRF token); the flash message shown afterwards."""
    page = session.get(demo.site + "/", timeout=10).text
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert token is not None, page
    answer = session.post(
        demo.site + "/send/",
        data={"csrfmiddlewaretoken": token.group(1), **fields},
        headers={"Referer": demo.site + "/"},
        timeout=10,
    )
    assert answer.status_code == 200
    flashes = re.findall(r'class="flash[^"]*">([^<]+)<', answer.text)
    assert flashes, answer.text
    return str(flashes[-1])


def wait_for_live(demo: Demo, session: requests.Session, pattern: str, timeout: float = 20) -> str:
    deadline = time.monotonic() + timeout
    while True:
        live = session.get(demo.site + "/live/", timeout=10).text
        if re.search(pattern, live, re.S):
            return live
        if time.monotonic() > deadline:
            raise AssertionError(f"{pattern!r} never appeared on the page:\n{live}")
        time.sleep(0.3)


def row_of(live: str, address: str) -> str:
    rows = [row for row in re.findall(r"<tr>.*?</tr>", live, re.S) if address in row]
    assert rows, live
    return rows[0]


def test_example_project_passes_its_checks_with_default_settings(tmp_path: Path) -> None:
    env = example_env(tmp_path / "db.sqlite3")  # the defaults alone must work
    checked = subprocess.run(
        [sys.executable, str(MANAGE), "check", "--fail-level", "WARNING"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stderr


def test_demo_admin_prints_a_login_that_works(tmp_path: Path) -> None:
    env = example_env(tmp_path / "db.sqlite3")
    run = [sys.executable, str(MANAGE)]
    subprocess.run([*run, "migrate", "-v0"], env=env, check=True)
    first = subprocess.run([*run, "demo_admin"], env=env, capture_output=True, text=True)
    again = subprocess.run([*run, "demo_admin"], env=env, capture_output=True, text=True)
    assert first.stdout == again.stdout  # one login per database, printed again each run
    login = re.fullmatch(r"Admin login: admin / (\S+)\n", first.stdout)
    assert login is not None, first.stdout + first.stderr
    script = (
        "from django.contrib.auth import authenticate; "
        f"print(authenticate(username='admin', password={login.group(1)!r}).is_superuser)"
    )
    shell = subprocess.run([*run, "shell", "-c", script], env=env, capture_output=True, text=True)
    assert shell.stdout.strip().endswith("True"), shell.stderr


def test_a_queued_message_is_listed_before_any_worker_sends_it(tmp_path: Path) -> None:
    env = example_env(tmp_path / "db.sqlite3")  # no worker runs: the batch stays pending
    run = [sys.executable, str(MANAGE)]
    subprocess.run([*run, "migrate", "-v0"], env=env, check=True)
    script = (
        "from django.test import Client; "
        "from django.contrib.auth.models import User; "
        "from django.core.mail import send_mail; "
        "send_mail('Waiting', 'b', None, ['ann@example.com']); "
        "client = Client(HTTP_HOST='127.0.0.1'); "
        "client.force_login(User.objects.create(username='staff', is_staff=True)); "
        "print(client.get('/live/').content.decode())"
    )
    shell = subprocess.run([*run, "shell", "-c", script], env=env, capture_output=True, text=True)
    row = row_of(shell.stdout, "ann@example.com")
    assert 'class="status badge queued"' in row and "Waiting" in row, shell.stdout + shell.stderr
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", row)
    assert "/admin/postmark/message/" in row  # its own row in the log, which the worker updates


#: Queues a message, then fetches the list with a worker sending it between the page's queries
#: (where it once read the log, then the waiting batches: a message sent in between, moving
#: from the one to the other, was in neither, which is how a restarted demo's list once lost it).
BETWEEN_QUERIES = """
from django.conf import settings
from django.contrib.auth.models import User
from django.core.mail import send_mail
from django.db import connection
from django.test import Client
from postmark.models import QueuedBatch
from postmark.queue.worker import deliver
from postmark.sandbox import Sandbox

settings.POSTMARK_API_URL = Sandbox().start().url
send_mail("Waiting", "b", None, ["ann@example.com"])
batch = str(QueuedBatch.objects.get().pk)
seen = []

def worker_between_queries(execute, sql, params, many, context):
    if '"postmark_' in sql and not isinstance(sql, bytes):
        seen.append(sql)
        if len(seen) == 2:
            print("worker:", deliver(batch).state)
    return execute(sql, params, many, context)

client = Client(HTTP_HOST="127.0.0.1")
client.force_login(User.objects.create_superuser("staff", "staff@example.com", "pw"))
with connection.execute_wrapper(worker_between_queries):
    print(client.get("/live/").content.decode())
print("=== after")
print(client.get("/live/").content.decode())
"""


def test_a_queued_message_stays_listed_while_the_worker_sends_it(tmp_path: Path) -> None:
    env = example_env(tmp_path / "db.sqlite3")
    run = [sys.executable, str(MANAGE)]
    subprocess.run([*run, "migrate", "-v0"], env=env, check=True)
    shell = subprocess.run(
        [*run, "shell", "-c", BETWEEN_QUERIES], env=env, capture_output=True, text=True
    )
    during, _, after = shell.stdout.partition("=== after")
    assert "worker: sent" in during, shell.stdout + shell.stderr
    assert len([r for r in re.findall(r"<tr>.*?</tr>", during, re.S) if "ann@" in r]) == 1, during
    assert 'class="status badge queued"' in row_of(during, "ann@example.com")
    assert 'class="status badge sent"' in row_of(after, "ann@example.com")


def test_the_demo_sends_at_its_next_start_a_batch_whose_task_a_stopped_worker_took(
    tmp_path: Path,
) -> None:
    """A worker stopped right after taking a task (before running it) leaves the batch pending
    with its task marked running: the next start settles it, and its worker sends it."""
    env = example_env(tmp_path / "demo.sqlite3")
    run = [sys.executable, str(MANAGE)]
    subprocess.run([*run, "migrate", "-v0"], env=env, check=True)
    script = (
        "from django.core.mail import send_mail; "
        "from django_tasks_db.models import DBTaskResult; "
        "send_mail('Stranded', 'b', None, ['ann@example.com']); "
        "print(DBTaskResult.objects.update(status='RUNNING'))"
    )
    taken = subprocess.run([*run, "shell", "-c", script], env=env, capture_output=True, text=True)
    assert taken.stdout.strip().endswith("1"), taken.stdout + taken.stderr
    with running_demo(tmp_path) as demo:
        live = wait_for_live(demo, demo.sign_in(), r"Stranded.*?badge (sent|delivered)", timeout=60)
    assert len([row for row in re.findall(r"<tr>.*?</tr>", live, re.S) if "Stranded" in row]) == 1


def test_bounce_testing_sends_from_the_page_show_each_bounce_and_then_suppression(
    tmp_path: Path,
) -> None:
    with running_demo(tmp_path) as demo:
        session = demo.sign_in()
        kinds = {
            "hardbounce": "HardBounce",
            "softbounce": "SoftBounce",
            "transient": "Transient",
            "spamcomplaint": "SpamComplaint",
        }
        for local in kinds:
            flash = send_from_page(demo, session, quick=f"{local}@{BOUNCE_TESTING}")
            assert "queued" in flash or "sent" in flash, flash
        send_from_page(demo, session, to="alice@example.com", subject="Hi", body="Hello")
        wait_for_live(demo, session, r'class="status badge delivered"')
        for bounce_type in kinds.values():
            live = wait_for_live(demo, session, rf'class="admin-link bounce-type">{bounce_type}<')
        statuses = {
            local: re.search(r'class="status badge (\w+)"', row_of(live, f"{local}@")).group(1)  # type: ignore[union-attr]
            for local in kinds
        }
        assert statuses == {
            "hardbounce": "bounced",
            "softbounce": "bounced",
            "transient": "bounced",
            "spamcomplaint": "complained",
        }
        assert 'class="status badge delivered"' in row_of(live, "alice@example.com")

        # The hard-bounced address is now suppressed: a second send never reaches Postmark.
        flash = send_from_page(demo, session, quick=f"hardbounce@{BOUNCE_TESTING}")
        assert "suppressed" in flash
        wait_for_live(demo, session, r'class="status badge suppressed"')
        suppressions = re.search(r'<table id="suppressions">.*?</table>', live, re.S)
        assert suppressions is not None and f"hardbounce@{BOUNCE_TESTING}" in suppressions.group()
        sent_to_sandbox = [m["To"] for m in demo.sandbox_state()["messages"]]
        assert sent_to_sandbox.count([f"hardbounce@{BOUNCE_TESTING}"]) == 1

        # The admin shows the same bounce.
        admin = requests.Session()
        login = admin.get(demo.site + "/admin/login/", timeout=10).text
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login)
        assert token is not None
        admin.post(
            demo.site + "/admin/login/?next=/admin/",
            data={
                "csrfmiddlewaretoken": token.group(1),
                "username": demo.username,
                "password": demo.password,
            },
            headers={"Referer": demo.site + "/admin/login/"},
            timeout=10,
        )
        bounces = admin.get(demo.site + "/admin/postmark/bounce/", timeout=10)
        assert bounces.status_code == 200 and f"hardbounce@{BOUNCE_TESTING}" in bounces.text


def test_synchronous_backend_from_the_environment_needs_no_worker(tmp_path: Path) -> None:
    backend = "postmark.backends.PostmarkBackend"
    with running_demo(tmp_path, EXAMPLE_EMAIL_BACKEND=backend) as demo:
        assert len(demo.leftover_processes()) == 2  # sandbox and site
        session = demo.sign_in()
        flash = send_from_page(demo, session, quick=f"hardbounce@{BOUNCE_TESTING}")
        assert flash.endswith(": sent.")  # sent within the request
        live = wait_for_live(demo, session, r'class="status badge bounced"')
        assert backend in session.get(demo.site + "/", timeout=10).text
        assert f"hardbounce@{BOUNCE_TESTING}" in row_of(live, "bounced")


def test_invalid_address_from_the_page_is_refused_without_sending(tmp_path: Path) -> None:
    with running_demo(tmp_path) as demo:
        flash = send_from_page(demo, demo.sign_in(), to="not an address", subject="s", body="b")
        assert "valid email address" in flash
        assert demo.sandbox_state()["messages"] == []


def test_ctrl_c_stops_every_process_and_the_demo_runs_again_at_once(tmp_path: Path) -> None:
    with running_demo(tmp_path / "first") as demo:
        assert len(demo.leftover_processes()) == 3  # sandbox, site, worker
        assert demo.stop() == 0
        assert demo.leftover_processes() == []
        assert any("Stopped: sandbox, site, worker." in line for line in demo.output)
    with running_demo(tmp_path / "second") as again:
        assert requests.get(again.site + "/", timeout=10).status_code == 200


def test_demo_says_how_to_choose_its_ports_and_reset_starts_afresh(tmp_path: Path) -> None:
    with running_demo(tmp_path) as demo:
        session = demo.sign_in()
        send_from_page(demo, session, to="ann@example.com", subject="Old", body="b")
        wait_for_live(demo, session, r"Old")
    assert any("EXAMPLE_PORT or --port" in line for line in demo.output), demo.output
    assert any("EXAMPLE_SANDBOX_PORT or --sandbox-port" in line for line in demo.output)
    with running_demo(tmp_path) as kept:
        # The same login, and the session of the last run still signed in (same secret key).
        assert (kept.username, kept.password) == (demo.username, demo.password)
        assert "Old" in session.get(kept.site + "/live/", timeout=10).text
    with running_demo(tmp_path, "--reset") as fresh:
        assert any("Reset: removed" in line for line in fresh.output)
        assert fresh.password != demo.password
        live = fresh.sign_in().get(fresh.site + "/live/", timeout=10).text
        assert "Nothing sent yet" in live


def test_killed_demo_leaves_no_orphans(tmp_path: Path) -> None:
    with running_demo(tmp_path) as demo:
        demo.process.kill()  # no chance to clean up: the children die with it (Linux)
        demo.process.wait()
        deadline = time.monotonic() + 15
        while demo.leftover_processes() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert demo.leftover_processes() == []


def test_demo_refuses_a_port_already_taken(tmp_path: Path) -> None:
    import socket

    port = free_port()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        run = subprocess.run(
            [sys.executable, str(DEMO), "--port", str(port), "--sandbox-port", str(free_port())],
            env=example_env(tmp_path / "db.sqlite3"),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert run.returncode == 2 and f"Port {port} is taken" in run.stderr
