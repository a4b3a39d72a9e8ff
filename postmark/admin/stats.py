"""The overview's numbers: a fixed handful of aggregate queries, whatever the volume.

Per day of sending (``Message.created_at``, indexed; with a stream, the (stream, created_at)
index), how many messages Postmark accepted and how many of those were delivered, bounced,
complained of, opened and clicked; the top bounce types and domains; the newest suppressions;
the messages whose outcome is unknown (of any age) and how those of the days were settled;
inbound mail received in the same days, per status, and failed mail of any age.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import Count, F, Q, QuerySet, Value
from django.db.models.functions import Lower, StrIndex, Substr, TruncDate
from django.utils import timezone

from ..conf import settings
from ..models import Bounce, InboundMessage, Message, Suppression

DAYS = 30
#: The series, in order: (name, the Message column counted: set when it happened).
SERIES = (
    ("sent", "message_id"),
    ("delivered", "delivered_at"),
    ("bounced", "bounced_at"),
    ("complained", "complained_at"),
    ("opened", "opened_at"),
    ("clicked", "clicked_at"),
)
TOP = 5
NEWEST_SUPPRESSIONS = 10
#: How a message whose outcome was unknown can be settled: (value, label), in order.
SETTLEMENTS = [(str(v), str(n)) for v, n in Message._meta.get_field("settlement").flatchoices]


@dataclass
class Day:
    day: date
    counts: dict[str, int]


@dataclass
class Inbound:
    #: Per status (each of ``InboundMessage.Status``, in order), the mail received in the days.
    received: dict[str, int]
    #: Failed mail received at any time: it is kept until someone handles it.
    failed: int

    @property
    def total(self) -> int:
        return sum(self.received.values())


@dataclass
class Settling:
    #: Messages whose outcome is unknown, of any age: each waits to be settled.
    waiting: int
    #: How the messages of the days whose outcome was unknown were settled: per settlement.
    settled: dict[str, int]


@dataclass
class Overview:
    days: list[Day]
    totals: dict[str, int]
    bounce_rate: float
    complaint_rate: float
    bounce_rate_warning: bool
    complaint_rate_warning: bool
    top_bounce_types: list[tuple[str, int]]
    top_bounce_domains: list[tuple[str, int]]
    newest_suppressions: list[Suppression]
    streams: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    inbound: Inbound = field(default_factory=lambda: Inbound({}, 0))
    settling: Settling = field(default_factory=lambda: Settling(0, {}))


def overview(stream: str = "", tag: str = "", *, today: date | None = None) -> Overview:
    today = today or timezone.localdate()
    first = today - timedelta(days=DAYS - 1)
    since = timezone.make_aware(datetime.combine(first, time.min))
    chosen = Message.objects.all()
    bounces = Bounce.objects.filter(bounced_at__gte=since)
    suppressions = Suppression.objects.active()
    if stream:
        chosen = chosen.filter(message_stream=stream)
        bounces = bounces.filter(message_stream=stream)
        suppressions = suppressions.filter(message_stream=stream)
    if tag:
        chosen = chosen.filter(tag=tag)
        bounces = bounces.filter(tag=tag)
    days = _per_day(chosen.filter(created_at__gte=since), first)
    totals = {name: sum(d.counts[name] for d in days) for name, _ in SERIES}
    sent = totals["sent"]
    bounce_rate = totals["bounced"] / sent if sent else 0.0
    complaint_rate = totals["complained"] / sent if sent else 0.0
    return Overview(
        days=days,
        totals=totals,
        bounce_rate=bounce_rate,
        complaint_rate=complaint_rate,
        bounce_rate_warning=sent > 0 and bounce_rate >= settings.POSTMARK_BOUNCE_RATE_WARNING,
        complaint_rate_warning=sent > 0
        and complaint_rate >= settings.POSTMARK_COMPLAINT_RATE_WARNING,
        top_bounce_types=_top(bounces, F("type")),
        top_bounce_domains=_top(
            bounces.exclude(email=""),
            Lower(Substr("email", StrIndex("email", Value("@")) + 1)),
        ),
        newest_suppressions=list(
            suppressions.order_by("-suppressed_at", "-pk")[:NEWEST_SUPPRESSIONS]
        ),
        streams=_distinct(Message.objects.filter(created_at__gte=since), "message_stream"),
        tags=_distinct(Message.objects.filter(created_at__gte=since), "tag"),
        inbound=inbound_counts(since),
        settling=settling_counts(chosen, since),
    )


def settling_counts(chosen: QuerySet[Message], since: datetime) -> Settling:
    """One query, through the status index and the created_at index."""
    waiting = Q(status=Message.Status.UNKNOWN)
    outcomes = [value for value, _ in SETTLEMENTS]
    window = Q(created_at__gte=since, settlement__in=outcomes)
    counts = {f"n_{o}": Count("pk", filter=window & Q(settlement=o)) for o in outcomes}
    row = chosen.filter(waiting | window).aggregate(**counts, waiting=Count("pk", filter=waiting))
    return Settling(int(row["waiting"] or 0), {o: int(row[f"n_{o}"] or 0) for o in outcomes})


def inbound_counts(since: datetime) -> Inbound:
    """One query, through the received_at index and the partial index of pending mail (which
    holds the failed): inbound mail has no stream or tag, so the overview's filters leave it."""
    window = Q(received_at__gte=since)
    failed = Q(status=InboundMessage.Status.FAILED)
    statuses = InboundMessage.Status.values
    counts = {f"n_{s}": Count("pk", filter=window & Q(status=s)) for s in statuses}
    row = InboundMessage.objects.filter(window | failed).aggregate(
        **counts, failed_ever=Count("pk", filter=failed)
    )
    return Inbound({s: int(row[f"n_{s}"] or 0) for s in statuses}, int(row["failed_ever"] or 0))


def _per_day(messages: QuerySet[Message], first: date) -> list[Day]:
    counts = {name: Count(column) for name, column in SERIES}
    rows = messages.annotate(day=TruncDate("created_at")).values("day").annotate(**counts)
    by_day: dict[date, dict[str, Any]] = {row["day"]: dict(row) for row in rows.order_by()}
    empty: dict[str, Any] = {}
    return [
        Day(day, {name: int(by_day.get(day, empty).get(name) or 0) for name, _ in SERIES})
        for day in (first + timedelta(days=n) for n in range(DAYS))
    ]


def _top(rows: QuerySet[Bounce], key: object) -> list[tuple[str, int]]:
    grouped = rows.annotate(key=key).values("key").annotate(n=Count("pk")).order_by("-n", "key")
    return [(str(row["key"] or "(none)"), int(row["n"])) for row in grouped[:TOP]]


def _distinct(rows: QuerySet[Message], column: str) -> list[str]:
    values = rows.exclude(**{column: ""}).order_by(column).values_list(column, flat=True)
    return list(values.distinct()[:50])
