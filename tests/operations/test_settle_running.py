"""How settling runs: one settler per row (a claim by a conditional UPDATE), as
``manage.py postmark_settle`` and as ``postmark.tasks.settle_task``, which a send whose outcome
is unknown schedules on a task backend that can wait, and which follows up its rows until they
are settled."""

from __future__ import annotations

import io
import threading
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.utils import timezone

from postmark.client import Client
from postmark.message import PostmarkEmailMessage
from postmark.models import Message
from postmark.operations import settle as settling
from postmark.operations.settle import settle
from postmark.queue.tasks_api import task_backends
from postmark.sandbox import Sandbox
from postmark.sending.recipients import LINK_KEY
from postmark.tasks import SETTLE_ROUNDS, settle_task
from tests.support.queued_sending import DUMMY, IMMEDIATE
from tests.support.settling import later, unknown

pytestmark = pytest.mark.django_db

ON_SERVER = django_settings.DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3"


def settle_command(*args: str) -> str:
    out = io.StringIO()
    call_command("postmark_settle", *args, stdout=out)
    return out.getvalue()


# --- One settler per row ---------------------------------------------------------------------


def test_a_row_another_settler_holds_is_left_to_it(
    sandbox: Sandbox, settings: Any, api_calls: list[str]
) -> None:
    row = unknown(sandbox, "accept-drop")
    Message.objects.filter(pk=row.pk).update(settling_since=timezone.now())
    api_calls.clear()
    assert settle().found == 0
    assert api_calls == []  # not even searched for
    # A claim older than POSTMARK_QUEUE_STALE_AFTER is a settler that died: taken over.
    stale = timezone.now() - timedelta(seconds=settings.POSTMARK_QUEUE_STALE_AFTER + 1)
    Message.objects.filter(pk=row.pk).update(settling_since=stale)
    assert settle().found == 1


def test_a_settler_that_starts_while_another_works_on_a_row_leaves_it(
    sandbox: Sandbox, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.POSTMARK_SETTLE_NOT_FOUND = "resend"
    row = unknown(sandbox, "500")
    later()
    inner: list[settling.Settled] = []
    search = Client.search_outbound

    def search_while_another_settles(self: Client, **kwargs: Any) -> Any:
        if not inner:
            inner.append(settle())  # a second settler, between the claim and the resend
        return search(self, **kwargs)

    monkeypatch.setattr(Client, "search_outbound", search_while_another_settles)
    assert settle().resent == 1
    assert (inner[0].resent, inner[0].found, inner[0].failed) == (0, 0, 0)
    assert sandbox.copies(LINK_KEY)[str(row.link_id)] == 1


@pytest.mark.skipif(
    not ON_SERVER,
    reason="settlers in threads need a database server's row locking: run with "
    "POSTMARK_TEST_DATABASE=postgres or mysql",
)
@pytest.mark.django_db(transaction=True)
def test_settlers_running_at_once_send_each_message_once(sandbox: Sandbox, settings: Any) -> None:
    settings.POSTMARK_SETTLE_NOT_FOUND = "resend"
    rows = [unknown(sandbox, "500", to=f"u{n}@example.com") for n in range(12)]
    later()
    reports: list[settling.Settled] = []

    def run() -> None:
        try:
            reports.append(settle())
        finally:
            from django.db import connection

            connection.close()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(report.resent for report in reports) == len(rows)
    assert all(sandbox.copies(LINK_KEY)[str(row.link_id)] == 1 for row in rows)
    assert set(Message.objects.values_list("settlement", flat=True)) == {"resent"}


# --- The command -----------------------------------------------------------------------------


def test_the_command_settles_what_is_due_and_says_what_it_did(sandbox: Sandbox) -> None:
    unknown(sandbox, "accept-drop")
    unknown(sandbox, "500", to="bob@example.com")
    output = settle_command()
    assert "1 found in Postmark (sent)" in output
    assert "1 not settled yet" in output
    assert Message.objects.filter(status="sent").count() == 1


def test_the_commands_dry_run_changes_nothing(sandbox: Sandbox) -> None:
    row = unknown(sandbox, "accept-drop")
    later()
    assert "1 found in Postmark (would be sent)" in settle_command("--dry-run")
    row.refresh_from_db()
    assert row.status == "unknown"


def test_the_command_names_the_rows_it_cannot_search_for(sandbox: Sandbox, settings: Any) -> None:
    settings.POSTMARK_SERVER_TOKENS = ["news-server-token"]
    unknown(sandbox, "500", server_token="news-server-token")
    settings.POSTMARK_SERVER_TOKENS = []
    assert "1 cannot be searched for" in settle_command()


def test_rows_not_due_yet_are_left_for_a_later_run(sandbox: Sandbox, settings: Any) -> None:
    settings.POSTMARK_SETTLE_AFTER = 60
    row = unknown(sandbox, "accept-drop")
    assert settle().found == 0
    row.refresh_from_db()
    assert row.status == "unknown"
    later(61)
    assert settle().found == 1


# --- The task, and who schedules it ----------------------------------------------------------


@pytest.fixture
def deferring(settings: Any) -> Any:
    """A task backend that keeps its tasks (with their run_after) until a test runs them."""
    settings.TASKS = {"default": {"BACKEND": DUMMY}}
    backend = task_backends["default"]
    backend.clear()
    yield backend
    backend.clear()


def test_a_send_whose_outcome_is_unknown_schedules_its_settling(
    sandbox: Sandbox, deferring: Any, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.POSTMARK_SETTLE_AFTER = 60
    with django_capture_on_commit_callbacks(execute=True):
        row = unknown(sandbox, "accept-drop")
    [scheduled] = deferring.results
    assert scheduled.task.module_path == "postmark.tasks.settle_task"
    assert scheduled.args == [[str(row.link_id)], 0]
    expected = timezone.now() + timedelta(seconds=60)
    assert abs((scheduled.task.run_after - expected).total_seconds()) < 5
    settings.POSTMARK_SETTLE_AFTER = 0
    assert scheduled.task.call(*scheduled.args)["found"] == 1


def test_a_send_that_went_schedules_nothing(
    sandbox: Sandbox, deferring: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        PostmarkEmailMessage("Hi", "Body", "shop@example.com", ["ann@example.com"]).send()
    assert deferring.results == []


def test_a_task_backend_that_cannot_wait_gets_no_task_to_run_too_early(
    sandbox: Sandbox, settings: Any, api_calls: list[str], django_capture_on_commit_callbacks: Any
) -> None:
    settings.TASKS = {"default": {"BACKEND": IMMEDIATE}}
    with django_capture_on_commit_callbacks(execute=True):
        unknown(sandbox, "accept-drop")
    assert not any(call.startswith("GET /messages") for call in api_calls)
    assert Message.objects.get().status == "unknown"  # left to manage.py postmark_settle


def test_the_task_follows_up_its_rows_until_they_are_settled(
    sandbox: Sandbox, deferring: Any, django_capture_on_commit_callbacks: Any
) -> None:
    row = unknown(sandbox, "500")
    with django_capture_on_commit_callbacks(execute=True):
        assert settle_task.call([str(row.link_id)])["waiting"] == 1
    [follow_up] = deferring.results
    assert follow_up.args == [[str(row.link_id)], 1]
    assert follow_up.task.run_after == row.unknown_since + timedelta(seconds=3600)
    deferring.clear()
    later()
    with django_capture_on_commit_callbacks(execute=True):
        assert follow_up.task.call(*follow_up.args)["failed"] == 1
    assert deferring.results == []


def test_the_task_gives_up_following_up_after_its_rounds_and_says_so(
    sandbox: Sandbox, deferring: Any, django_capture_on_commit_callbacks: Any, caplog: Any
) -> None:
    row = unknown(sandbox, "500")
    with django_capture_on_commit_callbacks(execute=True):
        settle_task.call([str(row.link_id)], SETTLE_ROUNDS)
    assert deferring.results == []
    assert "postmark_settle" in caplog.text


def test_a_failed_enqueue_leaves_the_rows_for_the_command_and_raises_nothing(
    sandbox: Sandbox,
    deferring: Any,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
    caplog: Any,
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("the broker is down")

    monkeypatch.setattr(type(deferring), "enqueue", broken)
    with django_capture_on_commit_callbacks(execute=True):
        row = unknown(sandbox, "accept-drop")
    assert "postmark_settle" in caplog.text
    assert "found" in settle_command() and Message.objects.get(pk=row.pk).status == "sent"


def test_the_task_with_no_rows_named_settles_every_row_that_is_due(sandbox: Sandbox) -> None:
    unknown(sandbox, "accept-drop")
    unknown(sandbox, "accept-500", to="bob@example.com")
    assert settle_task.call()["found"] == 2


def test_the_settings_are_checked(settings: Any) -> None:
    from django.core.exceptions import ImproperlyConfigured

    from postmark.conf import PostmarkConf

    conf = PostmarkConf()
    for bad in (-1, "60", True, None):
        with pytest.raises(ImproperlyConfigured, match="POSTMARK_SETTLE_AFTER"):
            conf.configure_settle_after(bad)
        with pytest.raises(ImproperlyConfigured, match="POSTMARK_SETTLE_NOT_FOUND_AFTER"):
            conf.configure_settle_not_found_after(bad)
    for bad in ("retry", "", None, "FAIL"):
        with pytest.raises(ImproperlyConfigured, match="POSTMARK_SETTLE_NOT_FOUND"):
            conf.configure_settle_not_found(bad)
    assert conf.configure_settle_not_found("resend") == "resend"
    assert conf.configure_settle_after(0) == 0.0


def test_a_message_is_searched_for_by_its_id_on_its_own_stream(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[dict[str, Any]] = []
    search = Client.search_outbound

    def recorded(self: Client, **kwargs: Any) -> Any:
        asked.append(kwargs)
        return search(self, **kwargs)

    monkeypatch.setattr(Client, "search_outbound", recorded)
    row = unknown(sandbox, "accept-drop", message_stream="broadcast")
    settle()
    [query] = asked
    assert query["metadata"] == (LINK_KEY, str(row.link_id))
    assert (query["messagestream"], query["count"], query["offset"]) == ("broadcast", 1, 0)
    assert query["fromdate"] < timezone.now().strftime("%Y-%m-%dT%H:%M:%S")
