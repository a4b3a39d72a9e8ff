"""``manage.py postmark_sync [bounces|suppressions|all] [--since DATE] [--stream NAME]``."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from postmark.exceptions import PostmarkError
from postmark.operations.sync import Progress, sync_bounces, sync_suppressions


class Command(BaseCommand):
    help = (
        "Pull Postmark's bounces and each stream's suppression list into the local models, for "
        "webhooks that never arrived. Safe to run at any time, as often as you like: a bounce "
        "already stored (by a webhook or an earlier sync) stays one row."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "what", nargs="?", choices=["bounces", "suppressions", "all"], default="all"
        )
        parser.add_argument(
            "--since", type=_date, help="Only what happened from this date (YYYY-MM-DD) on."
        )
        parser.add_argument("--stream", help="Only this message stream (default: every one).")

    def handle(
        self, *args: Any, what: str, since: date | None, stream: str | None, **o: Any
    ) -> None:
        # Suppressions first: the bounces' step suppresses the addresses of new inactive
        # bounces, and run first it would leave the suppressions' summary at "0 new" while
        # those rows appeared.
        steps = [
            (name, step)
            for name, step in (("suppressions", sync_suppressions), ("bounces", sync_bounces))
            if what in (name, "all")
        ]
        for name, step in steps:
            try:
                summary = step(since=since, stream=stream, progress=self._progress(name))
            except PostmarkError as exc:
                raise CommandError(f"Could not sync {name} with Postmark: {exc}") from exc
            if self.stdout.isatty():
                self.stdout.write("")  # end the progress line
            self.stdout.write(str(summary))

    def _progress(self, name: str) -> Progress | None:
        # A progress bar on a terminal only: cron mail and logs get the summary alone.
        if not self.stdout.isatty():
            return None

        def show(done: int, total: int | None) -> None:
            width = 30
            filled = width * done // total if total else width
            bar = "#" * filled + "." * (width - filled)
            self.stdout.write(f"\r{name} [{bar}] {done}/{total or '?'}", ending="")
            self.stdout.flush()

        return show


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise CommandError(f"--since {text!r} is not a date such as 2026-11-27.") from None
