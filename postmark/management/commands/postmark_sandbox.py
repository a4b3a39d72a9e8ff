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
INBOUND_URL_VARIABLE = "POSTMARK_SANDBOX_INBOUND_URL"


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
            "--inbound-url",
            default=os.environ.get(INBOUND_URL_VARIABLE) or None,
            help="Where to POST the inbound mail delivered to the sandbox (its page's form, "
            "postmark_inbound_deliver), with basic auth in it (better: in the environment "
            f"variable {INBOUND_URL_VARIABLE}). Default: the webhook URL's /inbound/ when it "
            "ends in /bounce/ or /events/.",
        )
        parser.add_argument(
            "--no-raw-email",
            dest="raw_email",
            action="store_false",
            help="Leave RawEmail (the whole MIME message) out of inbound mail's JSON, as a "
            "Postmark server without 'include raw email content' does.",
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
                inbound_url=options["inbound_url"] or _inbound_beside(options["webhook_url"]),
                raw_email=options["raw_email"],
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
        inbound = sandbox.inbound.target or "nowhere (set --inbound-url)"
        self.stdout.write(f"Inbound mail to: {inbound} (form: {sandbox.url}/sandbox/inbound)")
        self.stdout.flush()
        self._warn_of_secrets_in_argv(options)
        try:
            sandbox.serve_forever()
        except KeyboardInterrupt:
            self.stdout.write("Postmark sandbox stopped.")

    def _warn_of_secrets_in_argv(self, options: dict[str, Any]) -> None:
        """Name the variable that keeps a secret given as an option off the command line."""
        token = options["token"]
        if token and token != os.environ.get(TOKEN_VARIABLE):
            self.stderr.write(
                f"Note: --token is visible to every local user (ps); {TOKEN_VARIABLE} is not."
            )
        for option, variable in (
            ("webhook_url", WEBHOOK_URL_VARIABLE),
            ("inbound_url", INBOUND_URL_VARIABLE),
        ):
            url = options[option]
            if url and urlsplit(url).password and url != os.environ.get(variable):
                self.stderr.write(
                    f"Note: the password in --{option.replace('_', '-')} is visible to every "
                    f"local user (ps); {variable} is not."
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


def _inbound_beside(webhook_url: str | None) -> str | None:
    """The app's inbound URL next to its events URL (``.../postmark/bounce/`` gives
    ``.../postmark/inbound/``, credentials kept); None for any other URL."""
    if not webhook_url:
        return None
    parts = urlsplit(webhook_url)
    head, slash, last = parts.path.rstrip("/").rpartition("/")
    if not slash or last not in ("bounce", "events"):
        return None
    path = f"{head}/inbound" + ("/" if parts.path.endswith("/") else "")
    return parts._replace(path=path).geturl()


def _raise_keyboard_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
