"""Retention: delete what is older than the retention period, in small batches.

Each batch is one short transaction deleting at most ``PURGE_BATCH_SIZE`` rows by primary key,
so memory stays bounded and no lock is held for long, whatever the table's size. What still
matters is kept: suppressions in force, inactive bounces (the address is still deactivated and
can be reactivated), queued batches in the "unknown" state (a person has to decide them), and
inbound mail that failed or is not finished (``postmark.inbound.expiry``: finished inbound mail
goes after POSTMARK_INBOUND_RETENTION_DAYS, content and record together).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import models, transaction
from django.utils import timezone

from ..conf import settings
from ..inbound.expiry import delete_expired, expired
from ..models import Bounce, Message, QueuedBatch, Suppression, WebhookEvent

#: What is purged, and the filter that selects the old rows of each.
_TARGETS: list[tuple[str, type[models.Model], Callable[[datetime], models.Q]]] = [
    # Not the content of an inbound message still kept: it goes with its record (inbound.expiry).
    (
        "webhook events",
        WebhookEvent,
        lambda cutoff: models.Q(received_at__lt=cutoff, inbound_messages__isnull=True),
    ),
    ("messages", Message, lambda cutoff: models.Q(created_at__lt=cutoff)),
    (
        "bounces",
        Bounce,
        lambda cutoff: models.Q(bounced_at__lt=cutoff, inactive=False),
    ),
    (
        "lifted suppressions",
        Suppression,
        lambda cutoff: (
            models.Q(lifted_at__lt=cutoff)
            & (
                models.Q(suppressed_at__isnull=True)
                | models.Q(suppressed_at__lte=models.F("lifted_at"))
            )
        ),
    ),
    (
        "queued batches",
        QueuedBatch,
        lambda cutoff: models.Q(created_at__lt=cutoff, state__in=["sent", "failed"]),
    ),
]


def purge(
    older_than: timedelta | None = None, *, dry_run: bool = False, batch_size: int | None = None
) -> dict[str, int]:
    """Delete (or, with ``dry_run``, count) the old rows; how many of each kind."""
    age = older_than if older_than is not None else timedelta(days=settings.POSTMARK_RETENTION_DAYS)
    size = batch_size or settings.POSTMARK_PURGE_BATCH_SIZE
    now = timezone.now()
    cutoff = now - age
    # Inbound mail has a period of its own, unless an age is given for everything.
    inbound_days = settings.POSTMARK_INBOUND_RETENTION_DAYS
    inbound_cutoff = now - (older_than if older_than is not None else timedelta(inbound_days))
    removed = {
        "inbound messages": expired(inbound_cutoff).count()
        if dry_run
        else delete_expired(inbound_cutoff, size)
    }
    for label, model, condition in _TARGETS:
        rows = model._default_manager.filter(condition(cutoff))
        removed[label] = rows.count() if dry_run else _delete_in_batches(rows, size)
    return removed


def _delete_in_batches(rows: models.QuerySet[Any], size: int) -> int:
    total = 0
    while True:
        with transaction.atomic(using=rows.db):
            batch = list(rows.order_by("pk").values_list("pk", flat=True)[:size])
            if not batch:
                return total
            total += rows.model._default_manager.filter(pk__in=batch).delete()[0]


#: The units ``--older-than`` takes: (singular word, days in one).
_UNITS = {"h": ("hour", 1 / 24), "d": ("day", 1.0), "w": ("week", 7.0)}


def parse_age(text: str) -> timedelta:
    """``90d``, ``12h``, ``2w`` or a bare number of days."""
    number, unit = _split_age(text)
    try:
        age = timedelta(days=number * _UNITS[unit][1])
        # The cutoff must be a date: beyond the calendar's start, purge could not compute it.
        timezone.now() - age
    except (ValueError, OverflowError):
        raise ValueError(f"{text!r} is not an age such as 90d, 12h or 2w.") from None
    if age < timedelta(0):
        raise ValueError(f"{text!r} is negative.")
    return age


def age_in_words(text: str | None) -> str:
    """The age as given, in words: ``1h`` is "1 hour", ``0d`` "0 days", ``1.5w`` "1.5 weeks";
    None is POSTMARK_RETENTION_DAYS in days."""
    if text is None:
        number, unit = float(settings.POSTMARK_RETENTION_DAYS), "d"
    else:
        number, unit = _split_age(text)
    # Positional notation, never 1e-05: the shortest digits that give the number back.
    shown = str(int(number)) if number.is_integer() else format(Decimal(repr(number)), "f")
    word = _UNITS[unit][0]
    return f"{shown} {word}" if number == 1 else f"{shown} {word}s"


def _split_age(text: str) -> tuple[float, str]:
    unit = text[-1:].lower()
    number, unit = (text[:-1], unit) if unit in _UNITS else (text, "d")
    try:
        return float(number), unit
    except ValueError:
        raise ValueError(f"{text!r} is not an age such as 90d, 12h or 2w.") from None
