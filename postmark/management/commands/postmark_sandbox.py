"""``python manage.py postmark_sandbox``: run the local Postmark stand-in until Ctrl-C."""

from __future__ import annotations

import signal
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from postmark.sandbox import Sandbox


class Command(BaseCommand):
    help = (
        "Run a local stand-in for Postmark's API: it validates like Postmark, bounces mail to "
        "<type>@bounce-testing.postmarkapp.com and POSTs the webhooks to --webhook-url. Point "
        "POSTMARK_API_URL at it."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="Interface (default 127.0.0.1).")
        parser.add_argument("--port", type=int, default=8025, help="Port (default 8025).")
        parser.add_argument(
            "--webhook-url",
            help="Where to POST Bounce, SpamComplaint and Delivery webhooks, with basic auth in "
            "it: http://user:pass@127.0.0.1:8000/postmark/bounce/. Without it events are only "
            "shown on the sandbox's page.",
        )
        parser.add_argument(
            "--token",
            help="The only server token accepted (besides POSTMARK_API_TEST); default: any.",
        )
        parser.add_argument(
            "--webhook-delay",
            type=float,
            default=1.0,
            help="Seconds between a send and its webhooks (default 1).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            sandbox = Sandbox(
                options["host"],
                options["port"],
                token=options["token"],
                webhook_url=options["webhook_url"],
                webhook_delay=options["webhook_delay"],
            )
        except OSError as exc:
            raise CommandError(
                f"Cannot listen on {options['host']}:{options['port']}: {exc}"
            ) from exc
        # SIGTERM (from a process manager or `make demo`) stops as cleanly as Ctrl-C does.
        signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
        self.stdout.write(f"Postmark sandbox on {sandbox.url} (page: {sandbox.url}/)")
        self.stdout.write(f"Webhooks to: {sandbox.webhook_target or 'nowhere (page only)'}")
        self.stdout.flush()
        try:
            sandbox.serve_forever()
        except KeyboardInterrupt:
            self.stdout.write("Postmark sandbox stopped.")


def _raise_keyboard_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
