from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from .models import Bounce, Message, QueuedBatch, Suppression, WebhookEvent


class _ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: object, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: object, obj: object = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        # The link is Postmark's MessageID: a message without one has no events (rather than
        # every event without one).
        return super().get_queryset(request).exclude(message_id=None)


class BounceInline(_ReadOnlyInline):
    model = Bounce
    fields = ("bounced_at", "type", "email", "inactive", "description")


class WebhookEventInline(_ReadOnlyInline):
    model = WebhookEvent
    fields = ("received_at", "record_type", "status", "attempts", "error")


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ("created_at", "status", "subject", "to", "tag", "message_stream", "message_id")
    list_filter = ("status", "message_stream", "tag", "created_at")
    search_fields = ("message_id", "to", "cc", "bcc", "subject", "from_email")
    date_hierarchy = "created_at"
    readonly_fields = [field.name for field in Message._meta.fields]
    inlines = (BounceInline, WebhookEventInline)

    def has_add_permission(self, request: object) -> bool:
        return False


@admin.register(Bounce)
class BounceAdmin(admin.ModelAdmin):
    list_display = ("bounced_at", "type", "email", "inactive", "message_stream", "message_id")
    list_filter = ("type", "inactive", "message_stream", "record_type", "bounced_at")
    search_fields = ("email", "message__message_id", "=postmark_id")
    date_hierarchy = "bounced_at"
    readonly_fields = [field.name for field in Bounce._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


class _InForce(admin.SimpleListFilter):
    title = "in force"
    parameter_name = "in_force"

    def lookups(self, request: HttpRequest, model_admin: object) -> list[tuple[str, str]]:
        return [("yes", "suppressed"), ("no", "lifted")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        active = Suppression.objects.active().values("pk")
        if self.value() == "yes":
            return queryset.filter(pk__in=active)
        if self.value() == "no":
            return queryset.exclude(pk__in=active)
        return queryset


@admin.register(Suppression)
class SuppressionAdmin(admin.ModelAdmin):
    list_display = (
        "email",
        "message_stream",
        "in_force",
        "reason",
        "origin",
        "suppressed_at",
        "lifted_at",
    )
    list_filter = (_InForce, "reason", "origin", "message_stream", "suppressed_at")
    search_fields = ("email",)
    date_hierarchy = "suppressed_at"

    @admin.display(boolean=True, description="in force")
    def in_force(self, row: Suppression) -> bool:
        return row.active


@admin.register(WebhookEvent)
class WebhookEventAdmin(admin.ModelAdmin):
    list_display = ("received_at", "record_type", "status", "attempts", "message_id", "short_error")
    list_filter = ("status", "record_type", "received_at")
    search_fields = ("=body_sha256", "message__message_id", "error")
    date_hierarchy = "received_at"
    readonly_fields = [field.name for field in WebhookEvent._meta.fields]
    actions = ("reprocess",)

    @admin.display(description="error")
    def short_error(self, row: WebhookEvent) -> str:
        return row.error[:100]

    @admin.action(description="Reprocess selected failed or rejected events")
    def reprocess(self, request: HttpRequest, queryset: QuerySet[WebhookEvent]) -> None:
        from . import webhooks

        outcomes = [webhooks.replay(pk) for pk in queryset.values_list("pk", flat=True)]
        done = sum(o.http_status == 200 and o.reason != "duplicate" for o in outcomes)
        skipped = sum(o.reason == "duplicate" for o in outcomes)
        failed = [o for o in outcomes if o.http_status != 200]
        self.message_user(request, f"{done} processed, {skipped} already processed.")
        for outcome in failed:
            pk = outcome.webhook_event.pk if outcome.webhook_event else "?"
            self.message_user(request, f"#{pk}: {outcome.detail}", messages.ERROR)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(QueuedBatch)
class QueuedBatchAdmin(admin.ModelAdmin):
    """Read-only: a batch's state is changed by the worker and ``postmark_recover`` only; an
    "unknown" batch is for a person to check in Postmark's activity, then send again or not."""

    list_display = ("created_at", "state", "message_count", "attempts", "task_id", "finished_at")
    list_filter = ("state", "created_at")
    search_fields = ("=id", "task_id")
    date_hierarchy = "created_at"
    readonly_fields = [field.name for field in QueuedBatch._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description="messages")
    def message_count(self, obj: Any) -> int:
        return len(obj.messages)
