"""What every model admin here shares: read-only pages, formatted JSON, links between rows."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.utils.safestring import SafeString


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows that only Postmark's answers and the webhooks write: the page is titled "View",
    shows no Save buttons and no Add button (deleting stays, for the retention policy)."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # Exactly the read-only list, in its order: otherwise the view page shows each raw
        # column (JSON on one line, a foreign key as its str()) next to its formatted version.
        return list(self.get_readonly_fields(request, obj))


def pretty_json(value: Any) -> SafeString:
    """JSON (a decoded value, or a string holding JSON) indented in a <pre> block."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return format_html(_PRE, value)
    return format_html(_PRE, json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True))


def preformatted(text: str) -> SafeString:
    """Text (a traceback, a message's body) as it is, escaped, in a <pre> block that wraps."""
    return format_html(_PRE, text)


# Inline style: long values wrap instead of running off the page (no static files needed).
_PRE = '<pre class="postmark-json" style="white-space: pre-wrap; overflow-wrap: anywhere">{}</pre>'


def fields_of(model: type[Any], **shown_as: str) -> list[str]:
    """The model's fields in order, each named in ``shown_as`` replaced by that display (or
    left out for "")."""
    names = [shown_as.get(f.name, f.name) for f in model._meta.fields]
    return [name for name in names if name]


def changelist_link(model: str, text: object, **filters: str) -> SafeString:
    """A link to a changelist of this app filtered by ``filters`` (no query per row)."""
    url = reverse(f"admin:postmark_{model}_changelist") + "?" + urlencode(filters)
    return format_html('<a href="{}">{}</a>', url, text)


def change_link(model: str, pk: object, text: object) -> SafeString:
    return format_html(
        '<a href="{}">{}</a>', reverse(f"admin:postmark_{model}_change", args=[pk]), text
    )


def links(items: list[SafeString]) -> SafeString:
    if not items:
        return format_html("{}", "none")
    return format_html_join(", ", "{}", ((item,) for item in items))


def compact_datetime(field_name: str, description: str) -> Any:
    """A list column showing ``2026-12-01 09:49`` (local time), sortable by the field: the
    admin's default ``Dec. 1, 2026, 9:49 a.m.`` is what pushes a list past a laptop's width."""

    @admin.display(description=description, ordering=field_name)
    def column(row: Any) -> str:
        value = getattr(row, field_name)
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else "-"

    column.__name__ = f"{field_name}_column"
    return column


def shortened(text: str, length: int) -> str:
    """``text`` cut to ``length`` characters, "…" the last when cut (a list's column)."""
    return text if len(text) <= length else text[: length - 1] + "…"


def batch_state(row: Any) -> str:
    """A ``QueuedBatch``'s state in words. "sent (Postmark answered...)" only if something went
    to Postmark: a batch whose every message was suppressed or refused before sending (no
    payload) is finished without a request, and says so."""
    if row.state != "sent" or any(entry.get("payload") for entry in row.messages or ()):
        return str(row.get_state_display())
    statuses = {(entry.get("result") or {}).get("status") for entry in row.messages or ()}
    if statuses == {"suppressed"}:
        return "suppressed (nothing sent: every recipient is on a suppression list)"
    return "not sent (nothing to send; see each message's result)"
