"""The overview's chart as server-rendered SVG: no JavaScript, readable without colour.

One small panel per series (sent, delivered, ...), each titled with its name and total, so no
legend or colour is needed to tell them apart; every bar carries its day and count as a
tooltip, and the page has the same numbers as a table under the chart.
"""

from __future__ import annotations

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from .stats import SERIES, Day

WIDTH = 900
PANEL_HEIGHT = 70
BAR_AREA = 48
LEFT = 110
GAP = 2


def render(days: list[Day]) -> SafeString:
    height = PANEL_HEIGHT * len(SERIES) + 24
    slot = (WIDTH - LEFT) / max(len(days), 1)
    panels = format_html_join(
        "\n",
        "{}",
        ((_panel(name, index, days, slot),) for index, (name, _) in enumerate(SERIES)),
    )
    first, last = (days[0].day, days[-1].day) if days else ("", "")
    return format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" class="postmark-chart" role="img" '
        'viewBox="0 0 {w} {h}" width="100%" aria-labelledby="postmark-chart-title">'
        '<title id="postmark-chart-title">Messages per day, {first} to {last}</title>'
        "{panels}"
        '<text x="{left}" y="{bottom}" font-size="11">{first}</text>'
        '<text x="{w}" y="{bottom}" font-size="11" text-anchor="end">{last}</text>'
        "</svg>",
        w=WIDTH,
        h=height,
        panels=panels,
        left=LEFT,
        bottom=height - 6,
        first=first,
        last=last,
    )


def _panel(name: str, index: int, days: list[Day], slot: float) -> SafeString:
    top = index * PANEL_HEIGHT + 8
    values = [day.counts[name] for day in days]
    peak = max(values, default=0)
    bars = format_html_join(
        "",
        '<rect x="{}" y="{}" width="{}" height="{}" class="bar"><title>{}: {} {}</title></rect>',
        (
            (
                f"{LEFT + n * slot + GAP / 2:.1f}",
                f"{top + BAR_AREA - _height(value, peak):.1f}",
                f"{max(slot - GAP, 1):.1f}",
                f"{_height(value, peak):.1f}",
                day.day,
                value,
                name,
            )
            for n, (day, value) in enumerate(zip(days, values, strict=True))
        ),
    )
    return format_html(
        '<g class="series" data-series="{name}" data-total="{total}">'
        '<text x="0" y="{label_y}" font-size="13" font-weight="bold">{name}</text>'
        '<text x="0" y="{total_y}" font-size="11">total {total}, peak {peak}</text>'
        '<line x1="{left}" x2="{w}" y1="{base}" y2="{base}" stroke="currentColor" '
        'stroke-width="1"/>'
        '<g fill="currentColor">{bars}</g></g>',
        name=name,
        total=sum(values),
        peak=peak,
        label_y=top + 18,
        total_y=top + 34,
        left=LEFT,
        w=WIDTH,
        base=top + BAR_AREA,
        bars=bars,
    )


def _height(value: int, peak: int) -> float:
    # A day with any count gets at least a sliver, so "one" never looks like "none".
    if not value or not peak:
        return 0.0
    return max(BAR_AREA * value / peak, 2.0)
