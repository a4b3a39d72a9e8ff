"""Storing and dispatching webhooks: everything after HTTP (replay uses it too).

Transactions are where the subtle bugs live, so here is the whole story.

* The dedup key is the SHA-256 of the raw body (a retry repeats the same body) under a unique
  constraint; whether an event is new is decided by the database, never read-then-write. An
  outbound event also has ``event_key`` (``postmark.events.identity``), unique too: an event
  recovered from the Messages API and its webhook have different bodies, and are one row.
* Success path, one transaction and one commit: INSERT the ``WebhookEvent`` (already marked
  processed), send the signal, receivers write their rows, COMMIT. If the commit happens, the row
  and everything the receivers wrote are there together; if not, neither is.
* A receiver that catches a database error on PostgreSQL leaves the transaction aborted, and a
  COMMIT would silently roll it back; ``dispatch`` checks for that and fails like any receiver.
* Duplicate: the INSERT hits the unique key. On PostgreSQL a concurrent copy waits on the key
  until the first transaction ends, so "exists" always means "committed". The transaction is
  rolled back (PostgreSQL aborts it anyway) and a second one locks the existing row: processed or
  ignored -> nothing to do; failed or rejected -> process it again (this is a retry).
* A receiver raises: the transaction is rolled back (no half-written rows), then a new one
  records the row as failed with the error and traceback, and the view answers 500 with a fixed
  reason (the error, which may quote SQL, stays on the row). The failure write never downgrades
  a row a concurrent copy managed to process.
* ``attempts`` is counted by the database (``attempts + 1``), never from a value read earlier, so
  concurrent copies that all fail count every try.
"""

from __future__ import annotations

import hashlib
import traceback
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import Case, F, Q, QuerySet, When
from django.utils import timezone

from .. import events, signals
from ..models import WebhookEvent
from ..storage import statements

Status = WebhookEvent.Status
_DONE = (Status.PROCESSED, Status.IGNORED)
#: What the caller is told when a receiver fails; the detail is on the WebhookEvent row.
RECEIVER_FAILED = "a receiver failed; the error is kept on the stored event"


@dataclass(frozen=True)
class WebhookOutcome:
    """What became of one webhook; ``http_status`` is what the view answers."""

    http_status: int
    #: What the caller is told: one line, never the error itself.
    reason: str
    webhook_event: WebhookEvent | None = None

    @property
    def detail(self) -> str:
        """For an operator (admin, postmark_replay): the stored error of a failure, else reason."""
        row = self.webhook_event
        return row.error if self.http_status >= 500 and row is not None else self.reason


class _Duplicate(Exception):
    pass


def receive(
    body: str,
    payload: dict[str, Any],
    *,
    inbound: bool = False,
    headers: dict[str, str] | None = None,
    remote_addr: str | None = None,
) -> WebhookOutcome:
    """Store and process one webhook; ``payload`` is ``events.load(body, inbound=inbound)``."""
    row = WebhookEvent(
        body_sha256=hashlib.sha256(body.encode()).hexdigest(),
        record_type=events.record_type_of(payload, inbound=inbound)[:64],
        body=body,
        headers=headers or {},
        remote_addr=remote_addr,
        received_at=timezone.now(),
        attempts=1,
    )
    try:
        event = events.parse(payload, inbound=inbound)
    except events.InvalidPayload as exc:
        return _reject(row, str(exc))
    if isinstance(event, events.Event):  # inbound mail's MessageID is not one of ours
        row.message_id = event.message_id
    row.event_key = events.event_key(event)
    try:
        with transaction.atomic():
            _mark_processed(row, event, now=row.received_at)
            try:
                # A savepoint only around the INSERT would cost two more round trips on every
                # webhook; the rare duplicate pays for a rollback instead.
                statements.insert(row)
            except IntegrityError:
                raise _Duplicate from None
            dispatch(event, payload, row)
    except _Duplicate:
        return _process_duplicate(row, payload, inbound)
    except Exception as exc:
        return _record_failure(row, exc)
    return _done(row)


def replay(row_id: int) -> WebhookOutcome:
    """Process a stored event again (failed or rejected ones; processed ones are left alone)."""
    row = WebhookEvent.objects.get(pk=row_id)
    inbound = row.record_type == events.INBOUND
    try:
        payload = events.load(row.body, inbound=inbound)
    except events.InvalidPayload as exc:
        # Stored by an older version that let it through (1e999, say): it will never process,
        # so it is rejected rather than left failed for every later replay.
        unprocessed = WebhookEvent.objects.filter(pk=row.pk).exclude(status__in=_DONE)
        unprocessed.update(status=Status.REJECTED, error=str(exc))
        row.refresh_from_db()
        return WebhookOutcome(400, str(exc), row)
    return _process_existing(row.body_sha256, payload, inbound)


def dispatch(event: events.AnyEvent, payload: dict[str, Any], row: WebhookEvent) -> None:
    """Send the event's signal; a receiver that raises propagates (the caller rolls back)."""
    signal = signals.signal_for(event)
    if signal is None:
        return
    signal.send(sender=type(event), event=event, payload=payload, webhook_event=row)
    raise_if_transaction_aborted()


# libpq's PQTransactionStatus for "in a failed transaction block" (psycopg 2 and 3 alike).
_PQTRANS_INERROR = 3


def raise_if_transaction_aborted() -> None:
    """A receiver that caught its own database error on PostgreSQL leaves the transaction
    aborted; the COMMIT would then quietly roll back every write while the view answered 200."""
    if connection.vendor != "postgresql" or connection.connection is None:
        return
    if connection.connection.info.transaction_status == _PQTRANS_INERROR:
        raise DatabaseError(
            "A receiver caught a database error and carried on, but PostgreSQL has aborted the "
            "transaction: nothing the receivers wrote can be committed."
        )


def _mark_processed(row: WebhookEvent, event: events.AnyEvent, *, now: datetime) -> None:
    row.status = Status.IGNORED if isinstance(event, events.UnknownEvent) else Status.PROCESSED
    row.processed_at = now
    row.error = row.traceback = ""


def _done(row: WebhookEvent) -> WebhookOutcome:
    if row.status == Status.IGNORED:
        return WebhookOutcome(200, f"ignored: unknown RecordType {row.record_type!r}", row)
    return WebhookOutcome(200, "processed", row)


def _process_duplicate(row: WebhookEvent, payload: dict[str, Any], inbound: bool) -> WebhookOutcome:
    """The same body again, or the same event by another body (its webhook after it was
    recovered, or the other way round): the row already stored is the one processed, with its
    own body; the new body is not kept."""
    if WebhookEvent.objects.filter(body_sha256=row.body_sha256).exists():
        return _process_existing(row.body_sha256, payload, inbound)
    stored = WebhookEvent.objects.get(event_key=row.event_key)
    return _process_existing(stored.body_sha256, events.load(stored.body), inbound)


def _process_existing(key: str, payload: dict[str, Any], inbound: bool) -> WebhookOutcome:
    row = WebhookEvent.objects.get(body_sha256=key)  # for the failure record, should one be needed
    try:
        with transaction.atomic():
            row = WebhookEvent.objects.select_for_update().get(body_sha256=key)
            if row.status in _DONE:
                return WebhookOutcome(200, "duplicate", row)
            try:
                event = events.parse(payload, inbound=inbound)
            except events.InvalidPayload as exc:
                row.status, row.error = Status.REJECTED, str(exc)
                row.save(update_fields=["status", "error"])
                return WebhookOutcome(400, str(exc), row)
            _mark_processed(row, event, now=timezone.now())
            fields = {name: getattr(row, name) for name in _PROCESSED_FIELDS}
            WebhookEvent.objects.filter(pk=row.pk).update(**fields, attempts=F("attempts") + 1)
            row.attempts += 1  # what the UPDATE wrote: the row is locked
            dispatch(event, payload, row)
    except Exception as exc:
        return _record_failure(row, exc)
    return _done(row)


_PROCESSED_FIELDS = ("status", "processed_at", "error", "traceback")


def _reject(row: WebhookEvent, reason: str) -> WebhookOutcome:
    """Keep a request that is not a usable event (for a later replay), and answer 400."""
    row.status, row.error = Status.REJECTED, reason
    WebhookEvent.objects.bulk_create([row], ignore_conflicts=True)
    return WebhookOutcome(400, reason, row)


def _record_failure(row: WebhookEvent, exc: BaseException) -> WebhookOutcome:
    error = f"{type(exc).__name__}: {exc}"[:10000]
    trace = "".join(traceback.format_exception(exc))
    failed: dict[str, Any] = {"status": Status.FAILED, "error": error, "traceback": trace}
    failed["processed_at"] = timezone.now()
    # Concurrent failing copies race for the same row: on MySQL/MariaDB the INSERT that finds a
    # duplicate takes a shared lock that the others' UPDATEs then deadlock on. The database has
    # rolled the loser back whole, so it is run again: every try is counted, none is lost.
    for attempt in range(_FAILURE_RECORD_TRIES):
        try:
            _write_failure(row, failed)
            break
        except DatabaseError as problem:
            if not statements.is_deadlock(problem) or attempt == _FAILURE_RECORD_TRIES - 1:
                raise
    own_body_first = Case(When(body_sha256=row.body_sha256, then=0), default=1)
    return WebhookOutcome(500, RECEIVER_FAILED, _same(row).order_by(own_body_first).first())


_FAILURE_RECORD_TRIES = 10


def _same(row: WebhookEvent) -> QuerySet[WebhookEvent]:
    """The stored row this one collides with: the same body, or else the same event."""
    same = Q(body_sha256=row.body_sha256)
    if row.event_key:
        same |= Q(event_key=row.event_key)
    return WebhookEvent.objects.filter(same)


def _write_failure(row: WebhookEvent, failed: dict[str, Any]) -> None:
    with transaction.atomic():
        try:
            with transaction.atomic():
                for name, value in failed.items():
                    setattr(row, name, value)
                row.pk, row.attempts = None, 1
                WebhookEvent.objects.bulk_create([row])
        except IntegrityError:
            # There already (an earlier failure, or a concurrent copy): count this try, and
            # record its error unless that copy has processed the event meanwhile.
            again = _same(row)
            if not again.exclude(status__in=_DONE).update(**failed, attempts=F("attempts") + 1):
                again.update(attempts=F("attempts") + 1)
