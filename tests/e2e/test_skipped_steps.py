"""A project that skipped a step of the quickstart (``migrate``, ``INSTALLED_APPS``) or mistyped
a setting: each in a fresh Python process on a fresh database (a SQLite file; with
POSTMARK_TEST_DATABASE=postgres, a PostgreSQL database of its own), and each must end in a
sentence that names the step or the setting, never in SQL or Django's internals."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import postmark
from tests.settings import DATABASE_KIND, server_database

REPO = Path(__file__).resolve().parents[2]
MIGRATIONS = sorted(
    path.stem for path in (Path(postmark.__file__).parent / "migrations").glob("0*.py")
)

SETTINGS = """
import django
from django.conf import settings
settings.configure(**{{
    "INSTALLED_APPS": {apps!r},
    "DATABASES": {{"default": {database!r}}},
    "EMAIL_BACKEND": "postmark.backends.PostmarkBackend",
    "POSTMARK_API_KEY": "server-token",
    "POSTMARK_API_URL": "http://127.0.0.1:9",
    "POSTMARK_MAX_RETRIES": 0,
    "ROOT_URLCONF": "postmark.urls",
    "ALLOWED_HOSTS": ["*"],
    "DEFAULT_FROM_EMAIL": "sender@example.com",
    "POSTMARK_WEBHOOK_USER": "hook-user",
    "POSTMARK_WEBHOOK_PASSWORD": "hook-secret",
    **{extra!r},
}})
django.setup()
from django.core.management import call_command
"""
APPS = ["django.contrib.contenttypes", "django.contrib.auth", "postmark"]
AUTH = "Basic " + base64.b64encode(b"hook-user:hook-secret").decode()


@pytest.fixture
def database(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """A database nothing has migrated: PostgreSQL's (whose aborted transactions are the hard
    case) when the suite runs on it, else a SQLite file."""
    if DATABASE_KIND != "postgres":
        yield {"ENGINE": "django.db.backends.sqlite3", "NAME": str(tmp_path / "db.sqlite3")}
        return
    import psycopg

    config = server_database("postgres")
    name = os.environ.get("POSTMARK_TEST_DB_NAME", "test_django_postmark") + "_unmigrated"
    server = {"host": config["HOST"], "port": config["PORT"], "user": config["USER"]}
    with psycopg.connect(**server, dbname=config["NAME"], autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield {**config, "NAME": name}
    finally:
        with psycopg.connect(**server, dbname=config["NAME"], autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}"')


def run_django(
    code: str, database: dict[str, Any], tmp_path: Path, *, apps: list[str] = APPS, **extra: Any
) -> str:
    """Run ``code`` after ``django.setup()`` on ``database`` (never migrated unless ``code``
    says so); stdout and stderr together."""
    settings = SETTINGS.format(apps=apps, database=database, extra=extra)
    environment = {"PYTHONPATH": f"{tmp_path}:{REPO}", "PATH": "/usr/bin:/bin"}
    environment |= {key: value for key, value in os.environ.items() if key.startswith("PG")}
    done = subprocess.run(
        [sys.executable, "-c", settings + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env=environment,
    )
    return done.stdout + done.stderr


# --- migrate not run -------------------------------------------------------------------------


def test_the_database_check_says_to_run_migrate(database: dict[str, Any], tmp_path: Path) -> None:
    output = run_django('call_command("check", "--database", "default")', database, tmp_path)
    assert "postmark.W020" in output, output
    assert "django-postmark's tables do not exist in database 'default'" in output
    assert "HINT: Run `python manage.py migrate postmark`." in output


def test_migrate_is_not_stopped_by_the_check_and_afterwards_the_check_is_quiet(
    database: dict[str, Any],
    tmp_path: Path,
) -> None:
    # migrate runs the database checks before it migrates (as manage.py runs it: with checks):
    # W020 must be a warning there, not an error that would stop the very command that fixes it.
    output = run_django(
        """
        import io
        migrate = {"skip_checks": False, "verbosity": 0}
        for name, options in (("migrate", migrate), ("check", {"databases": ["default"]})):
            out, err = io.StringIO(), io.StringIO()
            call_command(name, stdout=out, stderr=err, **options)
            print(name.upper(), repr(out.getvalue() + err.getvalue()))
        """,
        database,
        tmp_path,
    )
    lines = output.splitlines()
    migrate, check = (line for line in lines if line.startswith(("MIGRATE", "CHECK")))
    assert "postmark.W020" in migrate and "SystemCheckError" not in output, output
    assert "postmark.W020" not in check and "System check identified no issues" in check


def test_a_partly_migrated_database_names_the_migrations_left(
    database: dict[str, Any], tmp_path: Path
) -> None:
    output = run_django(
        f"""
        call_command("migrate", "postmark", "{MIGRATIONS[1]}", verbosity=0)
        call_command("check", "--database", "default")
        """,
        database,
        tmp_path,
    )
    left = MIGRATIONS[2:]
    assert f"{len(left)} of django-postmark's migrations are not applied to database " in output
    assert f"({', '.join(left)})" in output, output


SEND = """
from contextlib import nullcontext
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
# Inside the caller's transaction too: there PostgreSQL refuses every statement after the error.
for block in (nullcontext, transaction.atomic):
    try:
        with block():
            get_connection().send_messages([EmailMessage("Hi", "Body", to=["ann@example.com"])])
    except Exception as exc:
        print("RAISED", type(exc).__name__, exc)
"""


@pytest.mark.parametrize(
    ("backend", "skip_suppressed"),
    [
        ("postmark.backends.PostmarkBackend", True),  # pre_send reads the suppression list
        ("postmark.backends.QueuedPostmarkBackend", True),
        ("postmark.backends.QueuedPostmarkBackend", False),  # the batch row is written
    ],
)
def test_sending_without_migrate_raises_improperly_configured_naming_migrate(
    database: dict[str, Any], tmp_path: Path, backend: str, skip_suppressed: bool
) -> None:
    output = run_django(
        SEND, database, tmp_path, EMAIL_BACKEND=backend, POSTMARK_SKIP_SUPPRESSED=skip_suppressed
    )
    raised = [line for line in output.splitlines() if line.startswith("RAISED")]
    assert len(raised) == 2, output
    for line in raised:
        assert line.startswith("RAISED ImproperlyConfigured django-postmark's tables are missing")
        assert "Run `python manage.py migrate postmark`" in line


WEBHOOK = """
import json
from django.test import Client
bodies = {
    "/bounce/": {"RecordType": "Delivery", "MessageID": "0f3b8c1e-1111-4222-8333-444455556666",
                 "Recipient": "ann@example.com", "DeliveredAt": "2026-01-01T00:00:00Z"},
    "/events/": {"RecordType": "Bounce"},  # not a usable event: stored as rejected, normally
    "/inbound/": {"From": "ann@example.com", "To": "box@inbound.example.com", "Subject": "Hi"},
}
client = Client(raise_request_exception=False)
for url, body in bodies.items():
    answer = client.post(url, json.dumps(body), content_type="application/json",
                         HTTP_AUTHORIZATION=%r)
    print("ANSWER", url, answer.status_code, answer.content.decode().strip())
"""


@pytest.mark.parametrize("debug", [False, True])
def test_webhooks_without_migrate_answer_503_with_a_short_reason(
    database: dict[str, Any], tmp_path: Path, debug: bool
) -> None:
    output = run_django(WEBHOOK % AUTH, database, tmp_path, DEBUG=debug)
    answers = [line.split(" ", 3)[1:] for line in output.splitlines() if line.startswith("ANSWER")]
    assert [url for url, *_ in answers] == ["/bounce/", "/events/", "/inbound/"], output
    for _, status, reason in answers:
        assert status == "503" and reason == "not ready: the site's database is not migrated"
    # The operator is told what to do, in the log.
    assert "Run `python manage.py migrate postmark`" in output


# --- "postmark" missing from INSTALLED_APPS ----------------------------------------------------

WITHOUT_THE_APP = ["django.contrib.contenttypes", "django.contrib.auth"]


def test_including_the_urls_without_the_app_installed_names_installed_apps(
    database: dict[str, Any],
    tmp_path: Path,
) -> None:
    # ROOT_URLCONF is postmark.urls: the URL checks import it, as runserver and a request would.
    output = run_django('call_command("check")', database, tmp_path, apps=WITHOUT_THE_APP)
    assert "RuntimeError" not in output and "app_label" not in output, output
    assert 'ImproperlyConfigured: django-postmark is used but "postmark" is not in ' in output
    assert "INSTALLED_APPS: add it" in output


def test_another_apps_models_importing_ours_without_the_app_installed_names_installed_apps(
    database: dict[str, Any],
    tmp_path: Path,
) -> None:
    shop = tmp_path / "shop"
    shop.mkdir()
    (shop / "__init__.py").write_text("")
    (shop / "models.py").write_text("from postmark.models import Message  # noqa\n")
    output = run_django("print('set up')", database, tmp_path, apps=[*WITHOUT_THE_APP, "shop"])
    assert "set up" not in output and "RuntimeError" not in output, output
    assert '"postmark" is not in INSTALLED_APPS' in output


# --- POSTMARK_API_URL ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("api.postmarkapp.com", "has no scheme"),
        ("127.0.0.1:8025", "has no scheme"),
        ("ftp://api.postmarkapp.com", "has the scheme 'ftp'"),
    ],
)
def test_an_api_url_postmark_cannot_be_reached_at_stops_start_up(
    database: dict[str, Any], tmp_path: Path, url: str, problem: str
) -> None:
    output = run_django("print('set up')", database, tmp_path, POSTMARK_API_URL=url)
    assert "set up" not in output and "No connection adapters" not in output
    assert f"ImproperlyConfigured: POSTMARK_API_URL {problem}" in output, output
