"""Pull Postmark's bounces and suppression lists into the models, for the webhooks that never
arrived (the site was down, the app was installed late).

Idempotent with the webhooks: a bounce is keyed on Postmark's ID whichever way it came, a new
one is written by the very receiver the webhook uses, and an existing one only gets the state
that can change in Postmark (``Inactive``, ``CanActivate``), never losing what only a webhook
brings (``Content``). An older state never overwrites a newer one: a row written after the
page was fetched is left alone, and suppressions use the same "not older" upsert as webhooks.

An address erased by ``postmark_forget`` stays erased: Postmark still lists its bounces and
suppressions until its own removal is done, and those dated before the forget are skipped
(counted as "forgotten"); see ``forget.Tombstone``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from .. import receivers
from ..api.timestamps import parse_timestamp
from ..client import Client
from ..conf import settings
from ..events import BounceEvent, SpamComplaintEvent
from ..models import Bounce, Suppression
from ..storage import statements
from .erase import normal_address
from .forget import Tombstone, forgotten

#: Postmark's largest page of bounces.
PAGE_SIZE = 500
#: Called after each page: (items done, items in all, or None when unknown).
Progress = Callable[[int, int | None], None]


@dataclass
class SyncSummary:
    kind: str
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    #: Of addresses erased by ``postmark_forget`` before: not stored.
    forgotten: int = 0

    def __str__(self) -> str:
        text = f"{self.kind}: {self.new} new, {self.updated} updated, {self.unchanged} unchanged"
        return f"{text}, {self.forgotten} forgotten (skipped)" if self.forgotten else text


def sync_bounces(
    *,
    since: date | None = None,
    stream: str | None = None,
    client: Client | None = None,
    progress: Progress | None = None,
) -> SyncSummary:
    """Every bounce and spam complaint Postmark has (from ``since``), paged."""
    client = client or Client.from_settings()
    summary = SyncSummary("bounces")
    filters = {"fromdate": since.isoformat() if since else None, "messageStream": stream}
    offset = 0
    while True:
        fetched_at = timezone.now()
        page = client.get_bounces(count=PAGE_SIZE, offset=offset, **filters)
        bounces = page.get("Bounces") or []
        total = int(page.get("TotalCount") or 0)
        _store_bounces(bounces, fetched_at, summary)
        offset += len(bounces)
        if progress:
            progress(offset, total)
        if not bounces or offset >= total:
            return summary


def _store_bounces(
    payloads: Iterable[Mapping[str, Any]], fetched_at: datetime, summary: SyncSummary
) -> None:
    events = [_event(payload) for payload in payloads]
    tombstones = forgotten(event.email for event in events)
    kept = [event for event in events if not _hidden(tombstones, event)]
    summary.forgotten += len(events) - len(kept)
    events = kept
    existing = {
        row.postmark_id: row
        for row in Bounce.objects.filter(postmark_id__in=[event.id for event in events])
    }
    with transaction.atomic():
        for event in events:
            row = existing.get(event.id)
            if row is None:
                receivers.store_bounce(None, event)
                if settings.POSTMARK_RECORD_SUPPRESSIONS:
                    receivers.record_suppressions(None, event)
                summary.new += 1
            elif (row.inactive, row.can_activate) == (event.inactive, event.can_activate):
                summary.unchanged += 1
            # Only if nothing wrote the row since the page was fetched (a webhook may have, since
            # it was read above): the database decides, not that earlier read.
            elif Bounce.objects.filter(pk=row.pk, updated_at__lte=fetched_at).update(
                inactive=event.inactive,
                can_activate=event.can_activate,
                updated_at=timezone.now(),
            ):
                summary.updated += 1
            else:
                summary.unchanged += 1


def _hidden(tombstones: dict[str, Tombstone], event: BounceEvent) -> bool:
    tombstone = tombstones.get(normal_address(event.email))
    return tombstone is not None and tombstone.hides_bounce(event.bounced_at)


def _event(payload: Mapping[str, Any]) -> BounceEvent:
    # GET /bounces answers with the webhook's fields but RecordType and Metadata (the webhook's
    # alone): a spam complaint says so by its Type, and its row gets its webhook's RecordType.
    complaint = payload.get("RecordType") == "SpamComplaint" or payload.get("Type") == (
        "SpamComplaint"
    )
    event = (SpamComplaintEvent if complaint else BounceEvent).from_payload(payload)
    event.record_type = event.record_type or ("SpamComplaint" if complaint else "Bounce")
    return event


def sync_suppressions(
    *,
    since: date | None = None,
    stream: str | None = None,
    client: Client | None = None,
    progress: Progress | None = None,
) -> SyncSummary:
    """Each outbound stream's suppression dump. Without ``since`` the dump is the whole list,
    so a local suppression missing from it was lifted in Postmark and is lifted here too."""
    client = client or Client.from_settings()
    streams = [stream] if stream else outbound_streams(client)
    summary = SyncSummary("suppressions")
    for done, name in enumerate(streams, 1):
        fetched_at = timezone.now()
        dump = client.get_suppressions(name, fromdate=since.isoformat() if since else None)
        with transaction.atomic():
            _store_suppressions(name, dump, summary)
            if since is None:
                listed = {str(entry.get("EmailAddress") or "").lower() for entry in dump}
                _lift_missing(name, listed, fetched_at, summary)
        if progress:
            progress(done, len(streams))
    return summary


def outbound_streams(client: Client) -> list[str]:
    """The server's streams that send (inbound streams have no suppressions or webhooks)."""
    return [
        str(entry["ID"])
        for entry in client.list_message_streams()
        if entry.get("ID") and entry.get("MessageStreamType") != "Inbound"
    ]


def _store_suppressions(stream: str, dump: list[dict[str, Any]], summary: SyncSummary) -> None:
    for start in range(0, len(dump), PAGE_SIZE):
        chunk = dump[start : start + PAGE_SIZE]
        emails = [str(entry.get("EmailAddress") or "").lower() for entry in chunk]
        tombstones = forgotten(emails)
        existing = {
            row.email: row
            for row in Suppression.objects.filter(message_stream=stream, email__in=emails)
        }
        for email, entry in zip(emails, chunk, strict=True):
            if not email:
                continue
            created = parse_timestamp(entry.get("CreatedAt"))
            tombstone = tombstones.get(normal_address(email))
            if tombstone is not None and tombstone.hides_suppression(created):
                summary.forgotten += 1
                continue
            when = created or timezone.now()
            row = existing.get(email)
            if row is None:
                summary.new += 1
            elif row.suppressed_at is not None and row.suppressed_at >= when:
                summary.unchanged += 1
                continue
            else:
                summary.updated += 1
            values = {
                "email": email,
                "message_stream": stream,
                "reason": str(entry.get("SuppressionReason") or Suppression.Reason.MANUAL),
                "origin": str(entry.get("Origin") or ""),
                "suppressed_at": when,
            }
            statements.upsert(
                Suppression,
                values,
                ["email", "message_stream"],
                ["reason", "origin", "suppressed_at"],
                newer="suppressed_at",
            )


def _lift_missing(
    stream: str, listed: set[str], fetched_at: datetime, summary: SyncSummary
) -> None:
    # Only rows suppressed before the dump was fetched: a webhook may have added one since.
    active = Suppression.objects.active().filter(
        message_stream=stream, suppressed_at__lt=fetched_at
    )
    gone = [pk for pk, email in active.values_list("pk", "email") if email not in listed]
    for start in range(0, len(gone), PAGE_SIZE):
        chunk = gone[start : start + PAGE_SIZE]
        summary.updated += Suppression.objects.filter(pk__in=chunk).update(lifted_at=fetched_at)
