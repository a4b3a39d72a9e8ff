"""``manage.py postmark_bulk_status ID [--interval SECONDS] [--timeout SECONDS] [--once]``."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from postmark.client import Client
from postmark.exceptions import PostmarkError
from postmark.operations.bulk import FINAL_STATUSES, describe, follow_bulk_request


class Command(BaseCommand):
    help = (
        "Follow a Bulk API request (the bulk_request_id of its Message rows, or of "
        "message.postmark) until Postmark says it is Completed or Failed, printing each status; "
        "then its rows still 'queued' become 'sent' or 'failed'. Exits non-zero if it failed "
        "or is not finished when --timeout runs out."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("bulk_id", metavar="ID")
        parser.add_argument(
            "--interval", type=float, default=5.0, help="Seconds between two looks (default 5)."
        )
        parser.add_argument(
            "--timeout", type=float, default=None, help="Give up after this many seconds."
        )
        parser.add_argument("--once", action="store_true", help="Look once, and do not wait.")

    def handle(
        self,
        *args: Any,
        bulk_id: str,
        interval: float,
        timeout: float | None,
        once: bool,
        **options: Any,
    ) -> None:
        try:
            if once:
                client = Client.from_settings()
                try:
                    self.stdout.write(describe(client.get_bulk_status(bulk_id)))
                finally:
                    client.close()
                return
            status = follow_bulk_request(
                bulk_id,
                interval=interval,
                timeout=timeout,
                on_status=lambda status: self.stdout.write(describe(status)),
            )
        except PostmarkError as exc:
            raise CommandError(f"Bulk request {bulk_id}: {exc}") from exc
        if status.get("Status") not in FINAL_STATUSES:
            raise CommandError(f"Bulk request {bulk_id} is not finished: {describe(status)}.")
