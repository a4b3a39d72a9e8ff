"""Settling the messages whose outcome is unknown (``manage.py postmark_settle``, and
``postmark.tasks.settle_task``, which both backends and the queue's worker schedule).

Postmark takes no idempotency key, so a call whose answer never came is never simply repeated.
Every message carries a generated id in its Metadata (POSTMARK_LINK_FIELD, ``Message.link_id``);
POSTMARK_SETTLE_AFTER seconds after such a call, the message is searched for by that id::

    unknown ──found──────────────────────────────> sent (Postmark's MessageID; "found")
       │
       └─not found, before POSTMARK_SETTLE_NOT_FOUND_AFTER──> unknown (searched for again later)
       └─not found, after it ──"fail", or resent already, or nothing kept to resend──> failed
                              └─"resend"──> resent_at (committed) ──request──> sent ("resent")
                                                                        └──────> failed (refused)
                                                                        └──────> unknown again

A row is claimed by one conditional UPDATE before anything is done with it, so two settlers
never act on the same row; ``resent_at`` is committed before the resend is written, so a
settler that dies then leaves a row that is searched for, never sent a third time. The id is
the same in every copy, so the search finds either. Run it outside a transaction: each of those
steps must commit before the next.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, router, transaction
from django.db.models import Q
from django.utils import timezone

from .. import signals
from ..api.spec import DEFAULT_STREAM
from ..api.timestamps import eastern_time, parse_timestamp
from ..client import Client
from ..conf import settings
from ..exceptions import PostmarkError
from ..message import server_label
from ..models import Message
from ..results import PostmarkResult, Status
from .resend import resend

logger = logging.getLogger("postmark")

_UNKNOWN = Message.Status.UNKNOWN
#: How far before a row was written its message is searched from: more than any clock skew,
#: far less than the 45 days (or more) Postmark keeps.
_SEARCHED_FROM = timedelta(days=1)
#: Rows read per query (each is then claimed, searched and written one at a time).
_CHUNK = 500
#: What ``_since`` reads of a row.
_TIMES = ("link_id", "unknown_since", "resent_at", "created_at")


@dataclass
class Settled:
    """What one run did: how many rows ended each way, and the rows left for later."""

    found: int = 0
    resent: int = 0
    failed: int = 0
    #: Rows searched for and not found yet (not trusted yet), a resend whose answer was lost
    #: too, or a search that failed: their link ids, and when the earliest is due again.
    waiting: list[str] = field(default_factory=list)
    next_at: datetime | None = None
    #: Rows that cannot be searched for: their server's token is not in POSTMARK_SERVER_TOKENS.
    unsearchable: int = 0

    def wait(self, row: Message, at: datetime) -> None:
        self.waiting.append(str(row.link_id))
        self.next_at = at if self.next_at is None else min(self.next_at, at)

    def as_dict(self) -> dict[str, int]:
        return {
            "found": self.found,
            "resent": self.resent,
            "failed": self.failed,
            "waiting": len(self.waiting),
            "unsearchable": self.unsearchable,
        }


def settle(link_ids: Iterable[str] | None = None, *, dry_run: bool = False) -> Settled:
    """Settle the rows whose outcome is unknown and whose first search is due (those with these
    link ids, or all of them). With ``dry_run``, search only: nothing is written or resent, and
    the counts say what would have been done."""
    report = Settled()
    due = timezone.now() - timedelta(seconds=settings.POSTMARK_SETTLE_AFTER)
    is_due = Q(unknown_since__lte=due) | Q(unknown_since__isnull=True, created_at__lte=due)
    unknown = Message.objects.filter(status=_UNKNOWN, link_id__isnull=False)
    if link_ids is None:
        chunks = [unknown.filter(is_due)]
    else:
        wanted = [uuid.UUID(str(one)) for one in link_ids]
        chunks = [
            unknown.filter(link_id__in=wanted[start : start + _CHUNK])
            for start in range(0, len(wanted), _CHUNK)
        ]
    clients: dict[str, Client | None] = {}
    try:
        for chunk in chunks:
            # Not due yet (a task run early, or a row resent meanwhile): kept for later.
            for row in chunk.exclude(is_due).only(*_TIMES):
                report.wait(row, _since(row) + timedelta(seconds=settings.POSTMARK_SETTLE_AFTER))
            for pk in list(chunk.filter(is_due).order_by("pk").values_list("pk", flat=True)):
                _settle_one(pk, clients, report, dry_run)
    finally:
        for client in clients.values():
            if client is not None:
                client.close()
    return report


def _since(row: Message) -> datetime:
    """When the latest call for the row was made (the send, or the resend): waits count from
    it. A row marked unknown without that time (by an older release) has its creation's."""
    return max((t for t in (row.unknown_since, row.resent_at) if t), default=row.created_at)


def _settle_one(pk: int, clients: dict[str, Client | None], report: Settled, dry: bool) -> None:
    now = timezone.now()
    claim = None
    if not dry:
        stale = now - timedelta(seconds=settings.POSTMARK_QUEUE_STALE_AFTER)
        free = Q(settling_since__isnull=True) | Q(settling_since__lte=stale)
        if not Message.objects.filter(free, pk=pk, status=_UNKNOWN).update(settling_since=now):
            return  # another settler has it, or it was settled meanwhile
        claim = now
    try:
        row = Message.objects.get(pk=pk)
        client = _client_for(row.server, clients)
        if client is None:
            report.unsearchable += 1
            return
        _decide(row, client, claim, report)
    finally:
        if claim is not None:
            Message.objects.filter(pk=pk, settling_since=claim).update(settling_since=None)


def _client_for(label: str, clients: dict[str, Client | None]) -> Client | None:
    """The client of the row's server (by its label), or None if its token is not listed."""
    if label not in clients:
        if not label:
            clients[label] = Client.from_settings()
        else:
            token = next(
                (t for t in settings.POSTMARK_SERVER_TOKENS if server_label(t) == label), None
            )
            clients[label] = Client.from_settings(token=token) if token else None
    return clients[label]


def _decide(row: Message, client: Client, claim: datetime | None, report: Settled) -> None:
    try:
        found = _search(client, row)
    except PostmarkError as error:
        logger.warning("Could not search for message %s (%s); later.", row.link_id, error)
        report.wait(row, timezone.now() + timedelta(seconds=settings.POSTMARK_SETTLE_AFTER))
        return
    if found is not None:
        report.found += 1
        if claim is not None:
            _found(row, claim, *found)
        return
    trusted = _since(row) + timedelta(seconds=settings.POSTMARK_SETTLE_NOT_FOUND_AFTER)
    if timezone.now() < trusted:
        report.wait(row, trusted)
        return
    after = f"not found in Postmark's search {settings.POSTMARK_SETTLE_NOT_FOUND_AFTER:g} s after"
    if row.resent_at is not None:
        why = f"Not sent: resent once by settling, and {after} the resend."
    elif settings.POSTMARK_SETTLE_NOT_FOUND == "fail":
        why = f'Not sent: {after} the send (POSTMARK_SETTLE_NOT_FOUND is "fail").'
    elif not row.payload:
        why = f"Not sent: {after} the send, and no request was kept to send it again."
    else:
        _resend(row, client, claim, report)
        return
    report.failed += 1
    if claim is not None:
        _settled(row, claim, "failed", why, status=Message.Status.FAILED)


def _search(client: Client, row: Message) -> tuple[dict[str, Any], int] | None:
    """(the newest message with the row's id, how many Postmark holds), or None."""
    link_id = str(row.link_id)
    # The name it was sent under (the setting may have changed since), as the row recorded it.
    key = next(
        (name for name, value in (row.metadata or {}).items() if value == link_id),
        settings.POSTMARK_LINK_FIELD,
    )
    answer = client.search_outbound(
        count=1,
        offset=0,
        metadata=(key, link_id),
        # Named: whether Postmark searches every stream when none is named is not documented.
        messagestream=row.message_stream or DEFAULT_STREAM,
        fromdate=eastern_time(row.created_at - _SEARCHED_FROM),
    )
    messages = answer.get("Messages") if isinstance(answer, dict) else None
    if not messages or not isinstance(messages[0], dict) or not messages[0].get("MessageID"):
        return None
    total = answer.get("TotalCount")
    return messages[0], total if isinstance(total, int) else 1


def _found(row: Message, claim: datetime, message: dict[str, Any], copies: int) -> None:
    why = f"Found in Postmark's search by settling (the send's answer was lost: {row.error})"
    if copies > 1:
        why += f" Postmark holds {copies} messages with this id."
    changes: dict[str, Any] = {
        "status": Message.Status.SENT,
        "submitted_at": parse_timestamp(message.get("ReceivedAt")),
    }
    message_id = _uuid(str(message["MessageID"]))
    try:
        # A savepoint: a MessageID another row holds must not stop the run (never expected).
        with transaction.atomic(using=router.db_for_write(Message)):
            written = _write(row, claim, "found", why, message_id=message_id, **changes)
    except IntegrityError:
        why += f" Its MessageID {message_id} is another row's already."
        written = _write(row, claim, "found", why, **changes)
    if written:
        _tell(row, "found", why)


def _resend(row: Message, client: Client, claim: datetime | None, report: Settled) -> None:
    if claim is None:  # a dry run: say what would be done, do nothing
        report.resent += 1
        return
    # Committed before the request is written: whatever happens next, never a third copy.
    marked = Message.objects.filter(
        pk=row.pk, settling_since=claim, status=_UNKNOWN, resent_at__isnull=True
    ).update(resent_at=timezone.now())
    if not marked:
        return
    result = resend(client, json.loads(row.payload))
    if result.status == Status.UNKNOWN:
        report.wait(row, timezone.now() + timedelta(seconds=settings.POSTMARK_SETTLE_AFTER))
        why = f"Resent by settling; its answer was lost too ({result.message}): searched again."
        Message.objects.filter(pk=row.pk, settling_since=claim).update(
            error=why, unknown_since=timezone.now(), updated_at=timezone.now()
        )
        return
    if not result.accepted:
        report.failed += 1
        why = f"Not sent: not found in Postmark's search; the resend was refused: {_text(result)}"
        code = result.error_code or None
        _settled(row, claim, "failed", why, status=Message.Status.FAILED, error_code=code)
        return
    report.resent += 1
    _settled(
        row,
        claim,
        "resent",
        f"Resent by settling (not found in Postmark's search): {_text(result)}",
        status=Message.Status.QUEUED if result.bulk_request_id else result.status,
        message_id=_uuid(result.message_id),
        submitted_at=result.submitted_at,
        bulk_request_id=result.bulk_request_id or "",
        error_code=None,
    )


def _settled(row: Message, claim: datetime, outcome: str, why: str, **changes: Any) -> None:
    if _write(row, claim, outcome, why, **changes):
        _tell(row, outcome, why)


def _write(row: Message, claim: datetime, outcome: str, why: str, **changes: Any) -> bool:
    """Write the outcome if the row is still this settler's and still unknown (a webhook may
    have moved it on meanwhile); whether it was."""
    done = Message.objects.filter(pk=row.pk, settling_since=claim, status=_UNKNOWN).update(
        settlement=outcome,
        error=why,
        payload="",
        settling_since=None,
        updated_at=timezone.now(),
        **changes,
    )
    return bool(done)


def _tell(row: Message, outcome: str, why: str) -> None:
    """``message_settled``, with the row as written: a receiver that fails is logged, and
    undoes nothing (the message has gone, or not, whatever it does)."""
    row.refresh_from_db()
    responses = signals.message_settled.send_robust(
        sender=Message, message=row, outcome=outcome, reason=why
    )
    for receiver, response in responses:
        if isinstance(response, Exception):
            logger.error("message_settled receiver %r failed", receiver, exc_info=response)


def _text(result: PostmarkResult) -> str:
    return result.message or str(result.error or result.status)


def _uuid(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if value else None
    except ValueError:
        return None
