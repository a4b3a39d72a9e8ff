"""The overview page: listed in the admin as "Overview" (a proxy of Message), shown to users
with ``postmark.view_overview``."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from ..conf import settings
from ..models import InboundMessage, Overview
from . import chart, stats
from .queries import CheckedQueries, has_nul, refuse_nul


@admin.register(Overview)
class OverviewAdmin(CheckedQueries):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_view_permission(self, request: HttpRequest, obj: object = None) -> bool:
        # The page shows numbers, never a message: "overview/<pk>/change/" (a proxy of Message)
        # would show one to whoever may see the numbers.
        return obj is None and super().has_view_permission(request)

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        if not self.has_view_permission(request):
            return super().changelist_view(request, extra_context)  # answers 403 as usual
        if has_nul(request):
            return refuse_nul()
        stream = request.GET.get("stream", "")
        tag = request.GET.get("tag", "")
        numbers = stats.overview(stream, tag)
        context = {
            **self.admin_site.each_context(request),
            **(extra_context or {}),
            "title": "Postmark overview",
            "subtitle": f"Last {stats.DAYS} days",
            "opts": self.opts,
            "numbers": numbers,
            "series": [name for name, _ in stats.SERIES],
            "rows": [(d.day, [d.counts[name] for name, _ in stats.SERIES]) for d in numbers.days],
            "chart": chart.render(numbers.days),
            "stream": stream,
            "tag": tag,
            "bounce_rate": percent(numbers.bounce_rate),
            "complaint_rate": percent(numbers.complaint_rate),
            "bounce_threshold": percent(settings.POSTMARK_BOUNCE_RATE_WARNING),
            "complaint_threshold": percent(settings.POSTMARK_COMPLAINT_RATE_WARNING),
            "inbound_rows": [
                (status, label, numbers.inbound.received.get(status, 0))
                for status, label in InboundMessage.Status.choices
            ],
            "settled_rows": [
                (value, label, numbers.settling.settled.get(value, 0))
                for value, label in stats.SETTLEMENTS
            ],
        }
        return TemplateResponse(request, "admin/postmark/overview.html", context)


def percent(rate: float) -> str:
    """0.1 -> "10%", 0.001 -> "0.1%", 0.00123 -> "0.12%": as few digits as say it."""
    text = f"{rate * 100:.2f}".rstrip("0").rstrip(".")
    return f"{text}%"
