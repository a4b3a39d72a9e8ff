"""``postmark_sync`` against the sandbox: bounces and suppressions missed by the webhooks."""

from __future__ import annotations

import io
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from postmark import receivers
from postmark.client import Client as APIClient
from postmark.models import Bounce, Message, Suppression
from postmark.operations.sync import sync_bounces, sync_suppressions
from postmark.sandbox import Sandbox
from postmark.tasks import sync_task
from tests.support import sandbox_mail
from tests.support.webhook_helpers import post

pytestmark = pytest.mark.django_db

HARD = "gone@example.com"


class TTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def sync(*args: str, stdout: io.StringIO | None = None) -> str:
    out = stdout or io.StringIO()
    call_command("postmark_sync", *args, stdout=out)
    return out.getvalue()


def test_bounce_missed_by_the_webhooks_appears_after_one_sync_once(
    postmark_sandbox: Sandbox,
) -> None:
    [message] = sandbox_mail.bounce([HARD])
    assert not Bounce.objects.exists()  # no webhook URL: the site never heard of it

    output = sync("bounces")

    bounce = Bounce.objects.get()
    assert (bounce.email, bounce.type, bounce.inactive) == (HARD, "HardBounce", True)
    assert "bounces: 1 new, 0 updated, 0 unchanged" in output
    # The same writer as the webhook: the message moves on and the address is suppressed.
    assert Message.objects.get().status == Message.Status.BOUNCED
    assert Suppression.objects.active().filter(email=HARD).exists()
    assert message.postmark.message_id == str(bounce.message_id)  # type: ignore[attr-defined]


def test_second_sync_changes_nothing(postmark_sandbox: Sandbox) -> None:
    sandbox_mail.bounce([HARD, "other@example.com"])
    sync()
    before = list(Bounce.objects.values())
    output = sync()
    assert "bounces: 0 new, 0 updated, 2 unchanged" in output
    assert "suppressions: 0 new, 0 updated, 2 unchanged" in output
    assert list(Bounce.objects.values()) == before


def test_bounce_seen_by_webhook_and_sync_is_one_row_and_keeps_the_webhooks_content(
    postmark_sandbox: Sandbox, client: Client
) -> None:
    sandbox_mail.bounce([HARD])
    [sandbox_bounce] = postmark_sandbox.bounces
    payload = dict(sandbox_bounce.as_json(postmark_sandbox.state.server_id), Content="raw mail")
    assert post(client, payload).status_code == 200

    assert "bounces: 0 new, 0 updated, 1 unchanged" in sync("bounces")
    assert Bounce.objects.get().content == "raw mail"


def test_reactivation_in_postmark_is_brought_over_by_sync(postmark_sandbox: Sandbox) -> None:
    sandbox_mail.bounce([HARD])
    sync()
    APIClient.from_settings().activate_bounce(postmark_sandbox.bounces[0].id)

    output = sync()

    assert "bounces: 0 new, 1 updated, 0 unchanged" in output
    assert "suppressions: 0 new, 1 updated, 0 unchanged" in output  # lifted: gone from the dump
    assert Bounce.objects.get().inactive is False
    assert not Suppression.objects.active().exists()


def test_a_row_written_after_the_page_was_fetched_is_not_overwritten(
    postmark_sandbox: Sandbox,
) -> None:
    sandbox_mail.bounce([HARD])
    sync("bounces")
    later = timezone.now() + timedelta(hours=1)
    Bounce.objects.update(inactive=False, updated_at=later)  # a newer state than the sandbox's
    assert "0 updated, 1 unchanged" in sync("bounces")
    assert Bounce.objects.get().inactive is False


def test_a_webhook_written_while_a_page_is_stored_is_not_overwritten(
    postmark_sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox_mail.bounce([HARD])
    sync("bounces")
    APIClient.from_settings().activate_bounce(postmark_sandbox.bounces[0].id)
    sandbox_mail.bounce(["later@example.com"])  # newer: listed first, so stored first
    store_bounce = receivers.store_bounce

    def store_then_a_webhook_for_the_other(sender: Any, event: Any, **kwargs: Any) -> None:
        store_bounce(sender, event, **kwargs)
        # The sync has read HARD's row and not yet written it: a webhook lands, newer state.
        Bounce.objects.filter(email=HARD).update(inactive=True, updated_at=timezone.now())

    monkeypatch.setattr(receivers, "store_bounce", store_then_a_webhook_for_the_other)

    output = sync("bounces")

    assert Bounce.objects.get(email=HARD).inactive is True  # the webhook's, not the page's
    assert "bounces: 1 new, 0 updated, 1 unchanged" in output


def test_bounces_are_paged_and_the_progress_bar_shows_on_a_terminal_only(
    postmark_sandbox: Sandbox,
) -> None:
    sandbox_mail.bounce([f"user{n}@example.com" for n in range(501)], "SoftBounce")
    tty = TTY()
    assert "bounces: 501 new" in sync("bounces", stdout=tty)
    assert "[##############################] 501/501" in tty.getvalue()
    assert Bounce.objects.count() == 501
    assert "\r" not in sync("bounces")


def test_since_only_pulls_bounces_from_that_date(postmark_sandbox: Sandbox) -> None:
    sandbox_mail.bounce(["old@example.com", "new@example.com"])
    old = next(b for b in postmark_sandbox.bounces if b.email == "old@example.com")
    old.bounced_at = datetime(2020, 1, 1, tzinfo=UTC)
    sync("bounces", "--since", "2021-01-01")
    assert list(Bounce.objects.values_list("email", flat=True)) == ["new@example.com"]


def test_stream_option_syncs_that_streams_suppressions_only(postmark_sandbox: Sandbox) -> None:
    postmark_sandbox.state.suppress("a@example.com", "outbound", "HardBounce", "Recipient")
    postmark_sandbox.state.suppress("b@example.com", "broadcast", "ManualSuppression", "Customer")
    sync("suppressions", "--stream", "broadcast")
    assert list(Suppression.objects.values_list("email", "message_stream", "reason")) == [
        ("b@example.com", "broadcast", "ManualSuppression")
    ]


def test_api_error_exits_with_a_clear_message(postmark_sandbox: Sandbox, settings: Any) -> None:
    postmark_sandbox.api.token = "the-right-token"
    with pytest.raises(CommandError, match=r"Could not sync bounces with Postmark: .*HTTP 401"):
        sync("bounces")


def test_bad_since_is_refused() -> None:
    with pytest.raises(CommandError, match="not a date"):
        sync("--since", "yesterday")


def test_sync_runs_as_a_task(postmark_sandbox: Sandbox, settings: Any) -> None:
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    sandbox_mail.bounce([HARD])
    result = sync_task.enqueue("bounces")
    assert result.return_value == {"bounces": {"new": 1, "updated": 0, "unchanged": 0}}
    assert Bounce.objects.filter(email=HARD).exists()


class _Dumps:
    """A client whose suppression dump is whatever the test says (no network)."""

    def __init__(self, dump: list[dict[str, Any]]) -> None:
        self.dump = dump

    def get_suppressions(self, stream: str, **filters: Any) -> list[dict[str, Any]]:
        return self.dump

    def list_message_streams(self) -> list[dict[str, Any]]:
        return [{"ID": "outbound", "MessageStreamType": "Transactional"}]


@given(st.lists(st.integers(min_value=0, max_value=10_000), min_size=1, max_size=6))
def test_an_older_suppression_never_overwrites_a_newer_one(minutes: list[int]) -> None:
    Suppression.objects.all().delete()
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for minute in minutes:  # the dumps arrive in any order
        when = start + timedelta(minutes=minute)
        entry = {"EmailAddress": HARD, "SuppressionReason": "HardBounce", "CreatedAt": when}
        sync_suppressions(since=start.date(), client=_Dumps([entry]))  # type: ignore[arg-type]
    row = Suppression.objects.get()
    assert row.suppressed_at == start + timedelta(minutes=max(minutes))


def test_a_local_lift_newer_than_postmarks_suppression_stands(postmark_sandbox: Sandbox) -> None:
    created = datetime(2026, 1, 1, tzinfo=UTC)
    entry = {"EmailAddress": HARD, "SuppressionReason": "HardBounce", "CreatedAt": created}
    Suppression.objects.create(
        email=HARD, suppressed_at=created, lifted_at=created + timedelta(days=1)
    )
    summary = sync_suppressions(since=created.date(), client=_Dumps([entry]))  # type: ignore[arg-type]
    assert (summary.new, summary.updated, summary.unchanged) == (0, 0, 1)
    assert not Suppression.objects.active().exists()


def test_sync_bounces_reports_progress_per_page(postmark_sandbox: Sandbox) -> None:
    sandbox_mail.bounce([HARD])
    seen: list[tuple[int, int | None]] = []
    sync_bounces(progress=lambda done, total: seen.append((done, total)))
    assert seen == [(1, 1)]


def test_the_command_exits_non_zero_with_the_reason_when_postmark_is_unreachable() -> None:
    # A real process, as cron runs it: tests.settings points the API at a closed port.
    done = subprocess.run(
        [sys.executable, "-m", "django", "postmark_sync", "bounces", "--settings=tests.settings"],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert "CommandError: Could not sync bounces with Postmark: Could not connect" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(("new", "existing"), [(1, 0), (2, 3), (4, 1)])
def test_new_suppressions_are_counted_new_whichever_step_finds_them(
    postmark_sandbox: Sandbox, settings: Any, new: int, existing: int
) -> None:
    # M addresses already synced; then N more bounce in Postmark (and are suppressed there),
    # the webhooks lost. The bounces' step would suppress them too: they are still new rows.
    sandbox_mail.bounce([f"old{i}@example.com" for i in range(existing)])
    sync()
    sandbox_mail.bounce([f"new{i}@example.com" for i in range(new)])
    before = Suppression.objects.count()

    output = sync()

    assert Suppression.objects.count() - before == new
    assert f"suppressions: {new} new, 0 updated, {existing} unchanged" in output, output
    assert f"bounces: {new} new, 0 updated, {existing} unchanged" in output
    # The task counts the same way.
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    sandbox_mail.bounce(["task@example.com"])
    counts = sync_task.enqueue().return_value
    assert (counts["suppressions"]["new"], counts["bounces"]["new"]) == (1, 1)
