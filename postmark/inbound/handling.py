"""Processing one kept inbound message: claim it, read it, route it, run its mailbox, record.

    received ──claim (committed)──> routed ──route + mailbox + status (one commit)──> processed
    failed, a retry due ──┘            │                                               bounced
                                       │                                               unrouted
                                       ├─ raised: rolled back, then recorded ──> failed (retried
                                       │                                         while attempts
                                       │                                         remain)
                                       └─ the worker died: stays routed; postmark_inbound takes
                                          it back after POSTMARK_INBOUND_STALE_AFTER

At most once when it succeeds: the claim is one conditional UPDATE, which the database checks
again under the row's lock, so of two workers only one takes a row, and nobody takes a row
processed, bounced or unrouted. The mailbox's receivers and the final status share one
transaction that holds the row's lock: their writes and "processed" are committed together or
not at all (a live worker's lock is how recovery tells it from a dead one).
"""

from __future__ import annotations

import logging
import traceback
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import router, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from .. import events
from ..conf import settings
from ..models import WebhookEvent
from ..signals import inbound_routed
from ..webhooks.processing import raise_if_transaction_aborted
from .mailboxes import InboundMail, Mailbox
from .record import InboundMessage
from .routes import choose, configured_routes

logger = logging.getLogger("postmark.inbound")

Status = InboundMessage.Status
#: What a worker may take: new mail, and failed mail with a retry scheduled.
CLAIMABLE = Q(status=Status.RECEIVED) | Q(status=Status.FAILED, next_attempt_at__isnull=False)
_MAX_ERROR = 10_000
_MAX_TRACEBACK = 64 * 1024


class Unprocessable(Exception):
    """The stored message cannot be read (its content deleted, or unreadable): it fails with no
    retry, since a retry would find the same."""


class NoReceiver(Exception):
    """The route names a mailbox nothing is connected to (retried: a deploy may connect it)."""


@dataclass(frozen=True)
class Outcome:
    status: str
    #: When to run it again (it failed, and attempts remain), or None.
    retry_at: datetime | None = None


def process(key: str) -> Outcome:
    """Process the message whose record has this key, if it can be taken; else say what it is
    ("missing" when there is no such record). The caller schedules any retry."""
    objects = InboundMessage.objects.db_manager(router.db_for_write(InboundMessage))
    claimed_at = timezone.now()
    rows = objects.filter(message_id=key)
    claimed = rows.filter(CLAIMABLE).update(
        status=Status.ROUTED, claimed_at=claimed_at, attempts=F("attempts") + 1
    )
    if not claimed:
        return Outcome(str(rows.values_list("status", flat=True).first() or "missing"))
    mailbox = ""
    try:
        with transaction.atomic(using=objects.db):
            row = rows.select_for_update().get()
            if row.status != Status.ROUTED or row.claimed_at != claimed_at:
                return Outcome(str(row.status))  # taken back by recovery meanwhile
            mail = read_mail(row)
            # A retry or a reprocess keeps the route first chosen; reroute() forgets it.
            mailbox = row.mailbox or route(mail)
            if not mailbox:
                return _finish(row, Status.UNROUTED)
            mail.mailbox = Mailbox.named(mailbox)
            row.mailbox = mailbox
            if not mail.mailbox.has_receivers:
                raise NoReceiver(
                    f"No receiver is connected to the mailbox {mailbox!r}: connect one with "
                    f"@postmark.inbound.mailbox({mailbox!r}), or change POSTMARK_INBOUND_ROUTES."
                )
            inbound_routed.send(sender=mail.mailbox, mail=mail)
            raise_if_transaction_aborted()
            if mail.bounce_note is not None:
                row.note = mail.bounce_note[:_MAX_ERROR]
                return _finish(row, Status.BOUNCED)
            return _finish(row, Status.PROCESSED)
    except Exception as exc:
        return _fail(rows, key, claimed_at, mailbox, exc)


def route(mail: InboundMail) -> str:
    """The name of the mailbox the first matching route names ("" when none matches)."""
    chosen = choose(mail, configured_routes())
    return chosen.mailbox if chosen is not None else ""


def read_mail(row: InboundMessage) -> InboundMail:
    """The message as its webhook stored it, read again (the body is the only copy)."""
    body = None
    if row.webhook_event_id is not None:
        # The database written to, not a replica that may not have the row yet.
        events_table = WebhookEvent.objects.db_manager(router.db_for_write(WebhookEvent))
        stored = events_table.filter(pk=row.webhook_event_id)
        body = stored.values_list("body", flat=True).first()
    if body is None:
        raise Unprocessable("Its content is gone: the webhook event that brought it was deleted.")
    try:
        payload = events.load(body, inbound=True)
        del body  # the parsed payload is what is read from here on
        event = events.parse(payload, inbound=True)
    except events.InvalidPayload as exc:
        raise Unprocessable(f"Its stored content cannot be read: {exc}") from None
    if not isinstance(event, events.InboundEvent):
        raise Unprocessable("Its stored content is not inbound mail.")
    return InboundMail(row, event)


def _finish(row: InboundMessage, status: str) -> Outcome:
    row.status = status
    row.processed_at = timezone.now()
    row.error = row.traceback = ""
    row.next_attempt_at = None
    finished = ["status", "processed_at", "error", "traceback", "next_attempt_at"]
    row.save(update_fields=[*finished, "mailbox", "note"])
    return Outcome(status)


def _fail(
    rows: QuerySet[InboundMessage], key: str, claimed_at: datetime, mailbox: str, exc: Exception
) -> Outcome:
    """Record the failure on the row this worker claimed, with a retry time while attempts
    remain (never for mail that cannot be read)."""
    now = timezone.now()
    attempts = rows.values_list("attempts", flat=True).first() or 0
    retry_at = None
    if not isinstance(exc, Unprocessable) and attempts < settings.POSTMARK_INBOUND_MAX_ATTEMPTS:
        delay = settings.POSTMARK_INBOUND_RETRY_DELAY * 2 ** max(attempts - 1, 0)
        retry_at = now + timedelta(seconds=delay)
    error, trace = _described(exc)
    logger.error(
        "Inbound message %s failed (mailbox %r, attempt %d; %s).",
        key,
        mailbox,
        attempts,
        f"retried at {retry_at:%Y-%m-%d %H:%M:%S}" if retry_at else "not retried",
        exc_info=exc,
    )
    recorded = rows.filter(status=Status.ROUTED, claimed_at=claimed_at).update(
        status=Status.FAILED,
        error=error,
        traceback=trace,
        mailbox=mailbox,
        processed_at=now,
        next_attempt_at=retry_at,
    )
    if not recorded:  # taken back by recovery meanwhile: its new run decides
        return Outcome(str(rows.values_list("status", flat=True).first() or "missing"))
    return Outcome(Status.FAILED, retry_at)


def _described(exc: BaseException) -> tuple[str, str]:
    """The error and the traceback to keep, each cut to its bound. A mailbox's exception is
    anyone's code: one whose message cannot even be made into text must still be recorded."""
    try:
        error = f"{type(exc).__name__}: {exc}"
        trace = "".join(traceback.format_exception(exc))
    except Exception:
        error = f"{type(exc).__name__} (its message could not be read)"
        trace = "".join(traceback.format_tb(exc.__traceback__))
    return error[:_MAX_ERROR], trace[-_MAX_TRACEBACK:]
