"""``manage.py postmark_recover_events --since WHEN [--until WHEN] [--stream NAME] [--pace S]``,
``--failed-inbound``, ``--retry-inbound``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from postmark.exceptions import PostmarkError
from postmark.operations.failed_inbound import failed_inbound as list_failed_inbound
from postmark.operations.failed_inbound import retry_failed_inbound
from postmark.operations.recover_events import recover_events


class Command(BaseCommand):
    help = (
        "Rebuild the events whose webhooks never arrived (the site was down longer than "
        "Postmark retries, about 10.5 hours) from Postmark's Messages API: deliveries, "
        "bounces, spam complaints, opens, clicks and subscription changes of the messages sent "
        "from --since to --until, stored and signalled as their webhooks would have been. An "
        "event already stored (its webhook came, or an earlier run) stays one row. "
        "--failed-inbound lists the inbound mail Postmark could not deliver to the site; "
        "--retry-inbound asks Postmark to deliver it again."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--since",
            type=_moment,
            help="Messages sent from then (2026-11-27 or 2026-11-27T08:00; the site's time zone "
            "unless an offset is given). Start before the outage: opens and clicks come later.",
        )
        parser.add_argument("--until", type=_moment, help="Messages sent until then (now).")
        parser.add_argument("--stream", help="Only this message stream (default: every one).")
        parser.add_argument(
            "--pace",
            type=float,
            default=0.0,
            metavar="SECONDS",
            help="Wait this long between calls to Postmark (default: none).",
        )
        parser.add_argument(
            "--failed-inbound", action="store_true", help="List the failed inbound mail."
        )
        parser.add_argument(
            "--retry-inbound",
            action="store_true",
            help="Ask Postmark to deliver every failed inbound message again.",
        )

    def handle(
        self,
        *args: Any,
        since: datetime | None,
        until: datetime | None,
        stream: str | None,
        pace: float,
        failed_inbound: bool,
        retry_inbound: bool,
        **options: Any,
    ) -> None:
        if since is None and not (failed_inbound or retry_inbound):
            raise CommandError("Give --since (and --until), --failed-inbound or --retry-inbound.")
        try:
            if since is not None:
                end = until or timezone.now()
                if end <= since:
                    raise CommandError("--until must come after --since.")
                summary = recover_events(since=since, until=end, stream=stream, pace=pace)
                self.stdout.write(str(summary))
            if failed_inbound:
                for message in list_failed_inbound():
                    self.stdout.write(
                        f"{message.get('MessageID')}  {message.get('Date') or ''}  "
                        f"from {message.get('From') or '?'} to {message.get('To') or '?'}: "
                        f"{message.get('Subject') or ''}"
                    )
            if retry_inbound:
                self.stdout.write(str(retry_failed_inbound()))
        except PostmarkError as exc:
            raise CommandError(f"Postmark refused or could not be reached: {exc}") from exc


def _moment(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise CommandError(f"{text!r} is not a date or time such as 2026-11-27T08:00.") from None
    return moment if timezone.is_aware(moment) else timezone.make_aware(moment)
