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
not at all (a live worker's lock is how recovery tells it from a dead one). A notice that
the mailbox's ``bounce()`` asks for is sent after that commit (``on_commit``): a run rolled
back sends none, and bounced mail is never taken again, so a message is answered once at most.
"""

from __future__ import annotations

import logging
import traceback
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from django.db import router, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from .. import events
from ..conf import settings
from ..models import WebhookEvent
from ..signals import inbound_routed
from ..webhooks.processing import raise_if_transaction_aborted
from .mailboxes import InboundMail, Mailbox, PendingNotice
from .notices import NoticeOutcome, NoticeReason, send_notice
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
            mailbox = route(mail, kept=row.mailbox)
            row.note = _note(mail)
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
            if mail.bounce_note is None:
                return _finish(row, Status.PROCESSED)
            notice = mail.notice
            row.note = _note(mail, SENDING if notice else DROPPED)
            if notice is not None:
                answer = partial(_answer, row.pk, objects.db, mail, notice)
                transaction.on_commit(answer, using=objects.db, robust=True)
            return _finish(row, Status.BOUNCED)
    except Exception as exc:
        return _fail(rows, key, claimed_at, mailbox, exc)


def route(mail: InboundMail, *, kept: str = "") -> str:
    """The name of the mailbox the first matching route names ("" when none matches).

    A retry or a reprocess keeps the mailbox first chosen (``kept``; ``reroute()`` forgets
    it), routed again so that its mailbox finds ``mail.match``, ``mail.reply_object`` and
    ``mail.reply_problem`` as on the first run. Should the routes now send it elsewhere, it
    still goes there, given what the routes naming that mailbox find."""
    routes = configured_routes()
    chosen = choose(mail, routes)
    if not kept or (chosen is not None and chosen.mailbox == kept):
        return chosen.mailbox if chosen is not None else ""
    problem = mail.reply_problem
    choose(mail, [declared for declared in routes if declared.mailbox == kept])
    mail.reply_problem = mail.reply_problem or problem
    return kept


# --- The record's note: why the mail was refused, and what its sender was told ---------------

#: The last line of a bounced message's note until its notice's outcome replaces it (one that
#: stays so was being sent when its worker stopped: it may or may not have gone).
SENDING = "Notice: sending"
DROPPED = "Dropped: no notice sent"


def _note(mail: InboundMail, last: str = "") -> str:
    refused = mail.reply_problem
    lines = [
        f"Reply address refused ({refused.reason}): {refused}" if refused else "",
        (mail.bounce_note or "")[:_MAX_ERROR],
        last,
    ]
    return "\n".join(line for line in lines if line)


def notice_line(outcome: NoticeOutcome) -> str:
    """How the note tells what became of a notice."""
    told = outcome.detail and outcome.detail != outcome.reason  # "queued", not "sent" again
    detail = f" ({outcome.detail})" if told else ""
    if outcome.sent:
        return f"Notice: sent{detail}"
    return f"Notice not sent: {outcome.reason}{detail}"


def _answer(pk: int, using: str, mail: InboundMail, notice: PendingNotice) -> None:
    """Send the notice ``bounce()`` asked for, now that the bounce is committed, and put its
    outcome on the record in place of SENDING."""
    try:
        outcome = send_notice(
            mail.event, notice.text, subject=notice.subject, from_email=notice.from_email
        )
    except Exception as exc:  # a backend's own error: the note says so, the mail stays bounced
        logger.exception("No notice for inbound message %s: the send raised.", mail.record.pk)
        outcome = NoticeOutcome(False, NoticeReason.FAILED, type(exc).__name__)
    InboundMessage.objects.using(using).filter(pk=pk, status=Status.BOUNCED).update(
        note=_note(mail, notice_line(outcome))
    )


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
