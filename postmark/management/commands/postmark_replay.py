"""``manage.py postmark_replay``: process stored webhooks again, once what failed is fixed."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from postmark import webhooks
from postmark.models import WebhookEvent


class Command(BaseCommand):
    help = (
        "Process stored Postmark webhooks again: by default every failed one, oldest first. "
        "Processed events are never processed twice. Exits with status 1 if any still fails."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "ids", nargs="*", type=int, help="WebhookEvent ids (default: all failed)"
        )
        parser.add_argument(
            "--rejected",
            action="store_true",
            help="also replay events answered 400 (after upgrading to a version that reads them)",
        )

    def handle(self, *args: Any, ids: list[int], rejected: bool, **options: Any) -> None:
        statuses = [WebhookEvent.Status.FAILED] + (
            [WebhookEvent.Status.REJECTED] if rejected else []
        )
        queryset = (
            WebhookEvent.objects.filter(pk__in=ids)
            if ids
            else WebhookEvent.objects.filter(status__in=statuses)
        )
        counts = {"processed": 0, "failed": 0, "skipped": 0}
        for pk in queryset.order_by("received_at", "pk").values_list("pk", flat=True):
            outcome = webhooks.replay(pk)
            if outcome.reason == "duplicate":
                counts["skipped"] += 1
                self.stdout.write(f"#{pk}: already processed")
            elif outcome.http_status == 200:
                counts["processed"] += 1
                self.stdout.write(f"#{pk}: {outcome.reason}")
            else:
                counts["failed"] += 1
                self.stderr.write(f"#{pk}: {outcome.detail}")
        self.stdout.write(
            f"{counts['processed']} processed, {counts['failed']} failed, "
            f"{counts['skipped']} already processed."
        )
        if counts["failed"]:
            raise SystemExit(1)
