"""``manage.py postmark_purge [--older-than 90d] [--dry-run]``: the retention policy."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from postmark.operations.retention import age_in_words, parse_age, purge


class Command(BaseCommand):
    help = (
        "Delete webhook events, message rows (with their stored bodies), bounces that no longer "
        "deactivate an address, lifted suppressions and finished queued batches older than "
        "--older-than (default: POSTMARK_RETENTION_DAYS). Suppressions in force are kept. "
        "Deletes in small batches; run it nightly from cron."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--older-than",
            metavar="AGE",
            help="An age such as 90d, 12h or 2w (default: POSTMARK_RETENTION_DAYS days).",
        )
        parser.add_argument("--dry-run", action="store_true", help="Count, delete nothing.")
        parser.add_argument(
            "--batch-size", type=int, help="Rows per delete (default POSTMARK_PURGE_BATCH_SIZE)."
        )

    def handle(
        self,
        *args: Any,
        older_than: str | None,
        dry_run: bool,
        batch_size: int | None,
        **options: Any,
    ) -> None:
        try:
            # 0 is an age like any other ("0d": everything), not "use the default".
            age = parse_age(older_than) if older_than is not None else None
        except ValueError as exc:
            raise CommandError(f"--older-than: {exc}") from exc
        if batch_size is not None and batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        removed = purge(age, dry_run=dry_run, batch_size=batch_size)
        verb = "Would delete" if dry_run else "Deleted"
        self.stdout.write(f"{verb} rows older than {age_in_words(older_than)}:")
        for label, count in removed.items():
            self.stdout.write(f"  {count} {label}")
