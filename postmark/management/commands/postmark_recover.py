"""``manage.py postmark_recover``: settle queued batches whose worker is gone."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from postmark.tasks import recover


class Command(BaseCommand):
    help = (
        "Mark queued batches whose worker died while sending as 'unknown' (they are never sent "
        "again), and enqueue again the batches still 'pending' whose task is no longer queued. "
        "A batch whose row cannot be read is marked (unknown if it was being sent, else "
        "failed) with the reason as its error, and listed. Run it after restarting a crashed "
        "worker, or every few minutes from cron."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--stale-after",
            type=float,
            default=None,
            metavar="SECONDS",
            help="Only touch batches untouched this long (default: POSTMARK_QUEUE_STALE_AFTER).",
        )

    def handle(self, *args: Any, stale_after: float | None, **options: Any) -> None:
        if stale_after is not None and stale_after < 0:
            raise CommandError("--stale-after must be zero or more seconds.")
        counts = recover(stale_after)
        summary = (
            f"{counts['unknown']} batch(es) marked unknown, {counts['enqueued']} enqueued again."
        )
        unreadable = counts["unreadable"]
        if unreadable:
            # Listed once: marked now, such a row is settled, and a later run leaves it alone.
            summary += (
                f" {len(unreadable)} batch(es) could not be read: marked failed (unknown if a "
                "worker may have sent them), the reason kept as each one's error (admin: Queued "
                "batches): " + ", ".join(unreadable)
            )
        self.stdout.write(summary)
