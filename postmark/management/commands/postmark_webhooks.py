"""``manage.py postmark_webhooks [--url URL] [--stream NAME] [--check]``."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser

from postmark.conf import settings
from postmark.exceptions import PostmarkError
from postmark.operations.webhook_setup import apply, inspect


class Command(BaseCommand):
    help = (
        "Create or update each outbound stream's webhook in Postmark: the site's URL, its basic "
        "auth (POSTMARK_WEBHOOK_USER/PASSWORD), the current secret of POSTMARK_WEBHOOK_SECRETS "
        "in its header, and every trigger the app handles. With --check, change nothing and "
        "exit non-zero if Postmark's setup differs (for deploy checks)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--url", help="The webhook URL, without credentials (default POSTMARK_WEBHOOK_URL)."
        )
        parser.add_argument(
            "--stream", action="append", help="Only this stream (repeatable; default: all)."
        )
        parser.add_argument("--check", action="store_true", help="Compare only; exit 1 on drift.")

    def handle(
        self, *args: Any, url: str | None, stream: list[str] | None, check: bool, **o: Any
    ) -> None:
        url = url or settings.POSTMARK_WEBHOOK_URL
        if not url:
            raise CommandError("Give --url or set POSTMARK_WEBHOOK_URL to the site's webhook URL.")
        try:
            results = (inspect if check else apply)(url, stream)
        except (ImproperlyConfigured, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        except PostmarkError as exc:
            raise CommandError(f"Postmark refused: {exc}") from exc
        drifted = [r for r in results if r.problems]
        for result in results:
            if check:
                state = "; ".join(result.problems) or "as expected"
                self.stdout.write(f"{result.stream}: {state}")
            else:
                self.stdout.write(f"{result.stream}: webhook {result.webhook_id} {result.action}")
        if check and drifted:
            raise CommandError(
                f"{len(drifted)} stream(s) differ from what the site expects; run "
                "manage.py postmark_webhooks (without --check) to fix them."
            )
