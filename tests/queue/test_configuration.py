"""A queue that is not configured right (POSTMARK_QUEUE_TASK_BACKEND naming no usable task
backend, POSTMARK_QUEUE_NAME none of its queues) stops the queued backend with an
ImproperlyConfigured naming the setting, and ``manage.py check`` says so; the synchronous
backend does not depend on the queue at all, in this process or in a fresh one."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from django.core import mail
from django.core.exceptions import ImproperlyConfigured

from postmark.installation.checks import check_task_queue
from postmark.models import Message, QueuedBatch
from tests.support.fake_postmark import FakePostmark
from tests.support.queued_sending import DUMMY, QUEUED_BACKEND, messages

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
PLAIN_BACKEND = "postmark.backends.PostmarkBackend"

#: (name, TASKS, POSTMARK_QUEUE_TASK_BACKEND, POSTMARK_QUEUE_NAME, the setting to be named)
MISCONFIGURED = [
    ("alias-missing", {"default": {"BACKEND": DUMMY}}, "outbox", "default", "TASK_BACKEND"),
    (
        "backend-not-importable",
        {"default": {"BACKEND": DUMMY}, "mail": {"BACKEND": "no_such_package.Backend"}},
        "mail",
        "default",
        "TASK_BACKEND",
    ),
    (
        "class-missing",
        {"default": {"BACKEND": DUMMY.rsplit(".", 1)[0] + ".NoSuchBackend"}},
        "default",
        "default",
        "TASK_BACKEND",
    ),
    (
        "queue-not-listed",
        {"default": {"BACKEND": DUMMY, "QUEUES": ["mail"]}},
        "default",
        "default",
        "NAME",
    ),
]


@pytest.fixture(params=MISCONFIGURED, ids=[case[0] for case in MISCONFIGURED])
def misconfigured(request: Any, settings: Any) -> str:
    """The settings of one misconfiguration; returns the setting the error must name."""
    _, tasks, alias, queue, named = request.param
    settings.TASKS = tasks
    settings.POSTMARK_QUEUE_TASK_BACKEND = alias
    settings.POSTMARK_QUEUE_NAME = queue
    return f"POSTMARK_QUEUE_{named}"


def test_the_synchronous_backend_sends_whatever_the_queue_settings_say(
    misconfigured: str, fake_postmark: FakePostmark
) -> None:
    items = messages(2)
    assert mail.get_connection(PLAIN_BACKEND).send_messages(items) == 2
    assert len(fake_postmark.requests) == 1
    assert Message.objects.filter(status="sent").count() == 2


def test_the_queued_backend_refuses_naming_the_setting_and_stores_nothing(
    misconfigured: str, fake_postmark: FakePostmark, django_capture_on_commit_callbacks: Any
) -> None:
    with (
        django_capture_on_commit_callbacks(execute=True) as hooks,
        pytest.raises(ImproperlyConfigured, match=misconfigured),
    ):
        mail.get_connection(QUEUED_BACKEND, fail_silently=True).send_messages(messages(2))
    assert hooks == []
    assert not QueuedBatch.objects.exists() and not Message.objects.exists()
    assert fake_postmark.requests == []


def test_check_names_the_setting_when_the_queued_backend_is_configured(
    misconfigured: str, settings: Any
) -> None:
    # This app's check alone: Django 6.1's own check of TASKS raises (InvalidTaskBackend) on a
    # BACKEND that does not import, before any other check reports.
    settings.EMAIL_BACKEND = QUEUED_BACKEND
    errors = [m for m in check_task_queue() if m.id in ("postmark.E020", "postmark.E021")]
    assert len(errors) == 1 and misconfigured in errors[0].msg


def test_check_says_nothing_of_the_queue_when_only_the_synchronous_backend_sends(
    misconfigured: str, settings: Any
) -> None:
    settings.EMAIL_BACKEND = PLAIN_BACKEND
    assert [m.id for m in check_task_queue() if m.id.startswith("postmark.E02")] == []


def test_check_passes_a_queue_that_works(settings: Any) -> None:
    settings.EMAIL_BACKEND = QUEUED_BACKEND
    settings.TASKS = {"mail": {"BACKEND": DUMMY, "QUEUES": ["outbox"]}}
    settings.POSTMARK_QUEUE_TASK_BACKEND = "mail"
    settings.POSTMARK_QUEUE_NAME = "outbox"
    assert [m.id for m in check_task_queue() if m.id.startswith("postmark.E02")] == []


# In a fresh interpreter whose settings name a missing task backend from the start, so that
# nothing imported earlier in this process (with good settings) can hide an import-time failure.
SETTINGS = """
from tests.settings import *  # noqa: F403

TASKS = {"default": {"BACKEND": %(dummy)r}}
POSTMARK_QUEUE_TASK_BACKEND = "no-such-backend"
POSTMARK_API_URL = %(url)r
# This process has no test database: no receiver may query one.
POSTMARK_STORE_MESSAGES = POSTMARK_SKIP_SUPPRESSED = False
EMAIL_BACKEND = %(backend)r
"""

SCRIPT = """
import django
django.setup()
from django.core import mail
from django.core.exceptions import ImproperlyConfigured
import postmark.backends  # the import itself must not need the queue

sent = mail.get_connection(%(plain)r).send_messages(
    [mail.EmailMessage("Hi", "Body", "from@example.com", ["to@example.com"])]
)
print("plain sent", sent)
try:
    mail.get_connection(%(queued)r).send_messages(
        [mail.EmailMessage("Hi", "Body", "from@example.com", ["to@example.com"])]
    )
except ImproperlyConfigured as exc:
    print("queued refused:", exc)
"""


def _fresh_process(
    tmp_path: Path, url: str, backend: str, *args: str
) -> subprocess.CompletedProcess[str]:
    (tmp_path / "bad_queue_settings.py").write_text(
        textwrap.dedent(SETTINGS % {"dummy": DUMMY, "url": url, "backend": backend})
    )
    env = dict(
        os.environ, DJANGO_SETTINGS_MODULE="bad_queue_settings", PYTHONPATH=f"{tmp_path}:{ROOT}"
    )
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_fresh_process_with_a_missing_task_backend_sends_synchronously_and_refuses_queueing(
    tmp_path: Path, fake_postmark: FakePostmark
) -> None:
    script = SCRIPT % {"plain": PLAIN_BACKEND, "queued": QUEUED_BACKEND}
    done = _fresh_process(tmp_path, fake_postmark.url, PLAIN_BACKEND, "-c", script)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert "plain sent 1" in lines
    assert any(
        line.startswith("queued refused: POSTMARK_QUEUE_TASK_BACKEND is 'no-such-backend'")
        for line in lines
    ), done.stdout
    assert len(fake_postmark.requests) == 1


def test_a_fresh_process_with_a_missing_task_backend_fails_its_check_naming_the_setting(
    tmp_path: Path,
) -> None:
    done = _fresh_process(tmp_path, "http://127.0.0.1:9", QUEUED_BACKEND, "-m", "django", "check")
    assert done.returncode != 0
    assert "postmark.E020" in done.stderr and "POSTMARK_QUEUE_TASK_BACKEND" in done.stderr
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
