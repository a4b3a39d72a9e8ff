"""``manage.py postmark_forget EMAIL``: erase an address here and ask Postmark to erase it."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from postmark.exceptions import PostmarkError
from postmark.models import DataRemoval
from postmark.operations.forget import forget, refresh


class Command(BaseCommand):
    help = (
        "Erase the rows of EMAIL, matched as an address, never as text (bounces, webhook "
        "events, messages sent to it alone, its suppressions unless --keep-suppression; a "
        "message also sent to others loses only this recipient) and ask Postmark to remove its "
        "data "
        "(POST /data-removals, with POSTMARK_ACCOUNT_TOKEN). --status checks pending requests."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("email", nargs="?")
        parser.add_argument(
            "--keep-suppression",
            action="store_true",
            help="Keep the address's suppressions, so that it is still never mailed.",
        )
        parser.add_argument(
            "--local-only", action="store_true", help="Erase local rows; do not ask Postmark."
        )
        parser.add_argument(
            "--status", action="store_true", help="Ask Postmark how pending removals are doing."
        )

    def handle(
        self,
        *args: Any,
        email: str | None,
        keep_suppression: bool,
        local_only: bool,
        status: bool,
        **options: Any,
    ) -> None:
        if status:
            self._status()
            return
        if not email:
            raise CommandError("Give the EMAIL address to forget (or --status).")
        try:
            forgotten = forget(
                email, keep_suppressions=keep_suppression, ask_postmark=not local_only
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        except PostmarkError as exc:
            raise CommandError(
                f"Local rows erased, but Postmark refused the data removal: {exc}. "
                "Run the command again to ask again."
            ) from exc
        erased = ", ".join(f"{count} {label}" for label, count in forgotten.erased.items())
        self.stdout.write(f"Erased {erased}.")
        removal = forgotten.removal
        if removal.postmark_id is None:
            self.stdout.write(
                "Postmark was not asked (--local-only, or no POSTMARK_ACCOUNT_TOKEN)."
            )
        else:
            self.stdout.write(
                f"Postmark data removal {removal.postmark_id}: {removal.status}. "
                "Check it with: manage.py postmark_forget --status"
            )

    def _status(self) -> None:
        pending = DataRemoval.objects.filter(status=DataRemoval.Status.PENDING)
        for removal in pending:
            try:
                refresh(removal)
            except PostmarkError as exc:
                raise CommandError(f"Postmark refused the status check: {exc}") from exc
            self.stdout.write(f"Data removal {removal.postmark_id}: {removal.status}")
        if not pending:
            self.stdout.write("No pending data removals.")
