"""``manage.py postmark_inbound``: run the inbound mail that is due, take back mail whose worker
died, and reprocess or reroute on request."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from postmark.inbound import process_pending, reprocess, reroute
from postmark.models import InboundMessage


class Command(BaseCommand):
    help = (
        "Process the inbound mail that is due: failed mail whose retry time has come, mail "
        "received but still waiting after --stale-after seconds (its task was lost), and mail "
        "whose worker died (routed for that long), which is taken back first. Enqueued on the "
        "task queue, or processed in this process with --here (a site without a worker, from "
        "cron). Safe to run at any time, and twice at once: each message is processed once."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--stale-after",
            type=float,
            default=None,
            metavar="SECONDS",
            help="How long mail may wait or be routed (default: POSTMARK_INBOUND_STALE_AFTER).",
        )
        parser.add_argument(
            "--here", action="store_true", help="Process in this process, not on the queue."
        )
        parser.add_argument(
            "--reprocess-failed",
            action="store_true",
            help="First, reprocess every failed message, spent retries included.",
        )
        parser.add_argument(
            "--reroute-unrouted",
            action="store_true",
            help="First, route the unrouted mail again (after adding a route).",
        )

    def handle(
        self,
        *args: Any,
        stale_after: float | None,
        here: bool,
        reprocess_failed: bool,
        reroute_unrouted: bool,
        **options: Any,
    ) -> None:
        if stale_after is not None and stale_after < 0:
            raise CommandError("--stale-after must be zero or more seconds.")
        Status = InboundMessage.Status
        if reprocess_failed:
            count = reprocess(InboundMessage.objects.filter(status=Status.FAILED), here=here)
            self.stdout.write(f"{count} failed message(s) reprocessed.")
        if reroute_unrouted:
            count = reroute(InboundMessage.objects.filter(status=Status.UNROUTED), here=here)
            self.stdout.write(f"{count} unrouted message(s) routed again.")
        counts = process_pending(stale_after=stale_after, here=here)
        done = "processed" if here else "enqueued"
        self.stdout.write(
            f"{counts['taken_back']} message(s) taken back from a worker that was gone, "
            f"{counts['scheduled']} {done}."
        )
