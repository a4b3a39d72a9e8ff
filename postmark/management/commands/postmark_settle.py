"""``manage.py postmark_settle``: settle the messages whose outcome is unknown."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from postmark.conf import settings
from postmark.operations.settle import settle


class Command(BaseCommand):
    help = (
        "Settle the messages whose outcome is unknown (a send whose answer never came): search "
        "Postmark for each by the id in its Metadata, POSTMARK_SETTLE_AFTER seconds after the "
        "send. Found: the row becomes 'sent' with Postmark's MessageID. Not found "
        "POSTMARK_SETTLE_NOT_FOUND_AFTER seconds after the send: failed, or sent once more "
        "(POSTMARK_SETTLE_NOT_FOUND). Rows not due yet are left for a later run: run it every "
        "few minutes from cron, unless your task backend runs postmark.tasks.settle_task."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Search only, and say what would be done: nothing is written or resent.",
        )

    def handle(self, *args: Any, dry_run: bool, **options: Any) -> None:
        report = settle(dry_run=dry_run)
        not_found = "resent" if settings.POSTMARK_SETTLE_NOT_FOUND == "resend" else "failed"
        would = "would be " if dry_run else ""
        self.stdout.write(
            f"{report.found} found in Postmark ({would}sent), {report.resent} {would}resent, "
            f"{report.failed} not found ({would}failed), {len(report.waiting)} not settled yet "
            f"(searched for again later; not found counts as {not_found} after "
            f"{settings.POSTMARK_SETTLE_NOT_FOUND_AFTER:g} s)."
        )
        if report.unsearchable:
            self.stdout.write(
                f"{report.unsearchable} cannot be searched for: they were sent through a server "
                "whose token is no longer in POSTMARK_SERVER_TOKENS. Put it back, and run this "
                "again."
            )
