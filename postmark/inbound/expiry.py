"""Retention of inbound mail, for ``postmark_purge``: mail that finished (processed, bounced or
unrouted) more than POSTMARK_INBOUND_RETENTION_DAYS ago is deleted, its content first (the
stored webhook body, the only copy), then its record. Failed mail, and mail not finished yet,
is kept until someone handles it, however old; ``postmark_purge``'s own rule for webhook events
leaves the content of every kept record alone.
"""

from __future__ import annotations

from datetime import datetime

from django.db import router, transaction
from django.db.models import QuerySet

from ..models import WebhookEvent
from .record import InboundMessage

Status = InboundMessage.Status
FINISHED = (Status.PROCESSED, Status.BOUNCED, Status.UNROUTED)


def expired(cutoff: datetime) -> QuerySet[InboundMessage]:
    return InboundMessage.objects.filter(status__in=FINISHED, processed_at__lt=cutoff)


def delete_expired(cutoff: datetime, batch_size: int) -> int:
    """Delete the mail that finished before ``cutoff``, ``batch_size`` records per short
    transaction; returns how many records went."""
    deleted = 0
    while True:
        with transaction.atomic(using=router.db_for_write(InboundMessage)):
            # Locked, so that a reroute cannot bring a record back to work while it goes.
            rows = expired(cutoff).order_by("pk").select_for_update()
            batch = list(rows.values_list("pk", "webhook_event_id")[:batch_size])
            if not batch:
                return deleted
            pks = [pk for pk, _ in batch]
            contents = [event for _, event in batch if event is not None]
            # Only contents no other record needs (there is one record per webhook; exact all
            # the same). Deleting a content deletes its record with it (CASCADE).
            needed = InboundMessage.objects.filter(webhook_event__in=contents).exclude(pk__in=pks)
            WebhookEvent.objects.filter(pk__in=contents).exclude(
                pk__in=needed.values("webhook_event")
            ).delete()
            InboundMessage.objects.filter(pk__in=pks).delete()  # records whose content was gone
            deleted += len(batch)
