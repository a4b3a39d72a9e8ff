"""``python manage.py postmark_sandbox``: run the local Postmark stand-in until Ctrl-C."""

from __future__ import annotations

import logging
import os
import signal
from typing import Any
from urllib.parse import urlsplit

from django.core.management.base import BaseCommand, CommandError, CommandParser

from postmark.sandbox import Sandbox

#: Secrets are best given here, not as options: a command line is visible to every local user.
TOKEN_VARIABLE = "POSTMARK_SANDBOX_TOKEN"
WEBHOOK_URL_VARIABLE = "POSTMARK_SANDBOX_WEBHOOK_URL"


class Command(BaseCommand):
    help = (
        "Run a local stand-in for Postmark's API: it validates like Postmark, bounces mail to "
        "<type>@bounce-testing.postmarkapp.com and POSTs the webhooks to --webhook-url. Point "
        f"POSTMARK_API_URL at it. Pass secrets in {TOKEN_VARIABLE} and {WEBHOOK_URL_VARIABLE} "
        "rather than as options, which any local user can read (ps)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="Interface (default 127.0.0.1).")
        parser.add_argument("--port", type=int, default=8025, help="Port (default 8025).")
        parser.add_argument(
            "--webhook-url",
            default=os.environ.get(WEBHOOK_URL_VARIABLE) or None,
            help="Where to POST Bounce, SpamComplaint and Delivery webhooks, with basic auth in "
            "it: http://user:pass@127.0.0.1:8000/postmark/bounce/ (better: in the environment "
            f"variable {WEBHOOK_URL_VARIABLE}). Without it events are only shown on the page.",
        )
        parser.add_argument(
            "--token",
            default=os.environ.get(TOKEN_VARIABLE) or None,
            help="The only server token accepted (besides POSTMARK_API_TEST); default: any "
            f"(better: in the environment variable {TOKEN_VARIABLE}).",
        )
        parser.add_argument(
            "--allowed-host",
            action="append",
            default=[],
            metavar="NAME[:PORT]",
            help="Also answer requests for this Host (repeat for more); by default only "
            "localhost, 127.0.0.1 and [::1] with the sandbox's port are answered.",
        )
        parser.add_argument(
            "--index-delay",
            type=float,
            default=0.0,
            help="Seconds before a message sent shows in the Messages API's search (default 0); "
            "faults on demand: PUT /sandbox/faults.",
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
                allowed_hosts=options["allowed_host"],
                index_delay=options["index_delay"],
            )
        except OSError as exc:
            raise CommandError(
                f"Cannot listen on {options['host']}:{options['port']}: {exc}"
            ) from exc
        # SIGTERM (from a process manager or `make demo`) stops as cleanly as Ctrl-C does.
        signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
        self._report_failed_webhooks()
        self.stdout.write(f"Postmark sandbox on {sandbox.url} (page: {sandbox.url}/)")
        self.stdout.write(f"Webhooks to: {sandbox.webhook_target or 'nowhere (page only)'}")
        self.stdout.flush()
        self._warn_of_secrets_in_argv(options)
        try:
            sandbox.serve_forever()
        except KeyboardInterrupt:
            self.stdout.write("Postmark sandbox stopped.")

    def _warn_of_secrets_in_argv(self, options: dict[str, Any]) -> None:
        """Name the variable that keeps a secret given as an option off the command line."""
        token, url = options["token"], options["webhook_url"]
        if token and token != os.environ.get(TOKEN_VARIABLE):
            self.stderr.write(
                f"Note: --token is visible to every local user (ps); {TOKEN_VARIABLE} is not."
            )
        if url and urlsplit(url).password and url != os.environ.get(WEBHOOK_URL_VARIABLE):
            self.stderr.write(
                "Note: the password in --webhook-url is visible to every local user (ps); "
                f"{WEBHOOK_URL_VARIABLE} is not."
            )

    def _report_failed_webhooks(self) -> None:
        """Each webhook the site did not take, on stderr: this process is the sandbox alone,
        so its logger is ours to route (and not twice, through the project's LOGGING too)."""
        handler = logging.StreamHandler(self.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger = logging.getLogger("postmark.sandbox.webhooks")
        logger.addHandler(handler)
        logger.setLevel(logging.WARNING)
        logger.propagate = False


def _raise_keyboard_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
