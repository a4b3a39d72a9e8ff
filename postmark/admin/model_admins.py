"""The model admins. Read-only where the rows are Postmark's record; the actions that change
something in Postmark live in ``actions.py``."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.safestring import SafeString

from .. import webhooks
from ..api.spec import DEFAULT_STREAM
from ..models import Bounce, DataRemoval, Message, QueuedBatch, Suppression, WebhookEvent
from ..operations.forget import address_hashes
from . import actions
from .display import (
    ReadOnlyAdmin,
    batch_state,
    change_link,
    changelist_link,
    compact_datetime,
    fields_of,
    links,
    pretty_json,
    shortened,
)
from .queries import CheckedQueries


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


class _StreamColumn:
    """A short "stream" header: "message stream" alone takes a tenth of a laptop's list."""

    @admin.display(description="stream", ordering="message_stream")
    def stream(self, row: Any) -> str:
        # A row without one went on the server's default stream (older rows, and payloads that
        # did not say): show its name rather than "-".
        return str(row.message_stream or DEFAULT_STREAM)


@admin.register(Message)
class MessageAdmin(_StreamColumn, CheckedQueries, ReadOnlyAdmin):
    list_display = (
        compact_datetime("created_at", "created at"),
        "status",
        "short_subject",
        "short_to",
        "tag",
        "stream",
    )
    list_filter = ("status", "settlement", "message_stream", "tag", "created_at")
    search_fields = ("message_id", "to", "cc", "bcc", "subject", "from_email")
    date_hierarchy = "created_at"
    readonly_fields = (
        # The request kept to resend an unknown message is left out: up to 10 MB of JSON.
        *fields_of(Message, message_stream="stream", metadata="formatted_metadata", payload=""),
        "suppressions",
    )
    inlines = (BounceInline, WebhookEventInline)

    @admin.display(description="subject", ordering="subject")
    def short_subject(self, row: Message) -> str:
        return shortened(row.subject or "(no subject)", 60)

    @admin.display(description="to", ordering="to")
    def short_to(self, row: Message) -> str:
        return shortened(row.to, 40)

    @admin.display(description="metadata")
    def formatted_metadata(self, row: Message) -> SafeString:
        return pretty_json(row.metadata)

    @admin.display(description="suppressions it caused")
    def suppressions(self, row: Message) -> SafeString:
        emails = list(row.bounces.values_list("email", flat=True)) if row.message_id else []
        rows = Suppression.objects.filter(
            email__in=[e.lower() for e in emails],
            message_stream=row.message_stream or DEFAULT_STREAM,
        )
        return links([change_link("suppression", s.pk, s) for s in rows])


@admin.register(Bounce)
class BounceAdmin(_StreamColumn, CheckedQueries, ReadOnlyAdmin):
    list_display = (
        compact_datetime("bounced_at", "bounced at"),
        "type",
        "email",
        "inactive",
        "stream",
    )
    list_filter = ("type", "inactive", "message_stream", "record_type", "bounced_at")
    search_fields = ("email", "message__message_id", "=postmark_id")
    date_hierarchy = "bounced_at"
    readonly_fields = (
        *fields_of(
            Bounce, message="message_link", message_stream="stream", metadata="formatted_metadata"
        ),
        "related",
    )
    actions = (actions.reactivate,)

    def has_reactivate_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("postmark.reactivate_bounce")

    @admin.display(description="Postmark MessageID")
    def message_link(self, row: Bounce) -> SafeString:
        # The MessageID the bounce names, linked to the message if this app logged it.
        if row.message_id is None:
            return format_html("{}", "none")
        logged = Message.objects.filter(message_id=row.message_id).values_list("pk", flat=True)
        pk = next(iter(logged), None)
        if pk is None:
            return format_html("{} (not sent through this site)", row.message_id)
        return change_link("message", pk, row.message_id)

    @admin.display(description="metadata")
    def formatted_metadata(self, row: Bounce) -> SafeString:
        return pretty_json(row.metadata)

    @admin.display(description="see also")
    def related(self, row: Bounce) -> SafeString:
        items = [changelist_link("suppression", "suppressions of this address", q=row.email)]
        if row.message_id:
            items.append(
                changelist_link("webhookevent", "webhook events", message_id=str(row.message_id))
            )
        return links(items)


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
class SuppressionAdmin(_StreamColumn, actions.SuppressFormMixin, CheckedQueries, ReadOnlyAdmin):
    list_display = (
        "email",
        "stream",
        "in_force",
        "reason",
        compact_datetime("suppressed_at", "suppressed at"),
    )
    list_filter = (_InForce, "reason", "origin", "message_stream", "suppressed_at")
    search_fields = ("email",)
    date_hierarchy = "suppressed_at"
    readonly_fields = (*fields_of(Suppression), "bounces")
    actions = (actions.lift,)

    def has_lift_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("postmark.lift_suppression")

    @admin.display(boolean=True, description="in force")
    def in_force(self, row: Suppression) -> bool:
        return row.active

    @admin.display(description="bounces")
    def bounces(self, row: Suppression) -> SafeString:
        return changelist_link("bounce", "bounces of this address", q=row.email)


@admin.register(WebhookEvent)
class WebhookEventAdmin(CheckedQueries, ReadOnlyAdmin):
    list_display = (
        compact_datetime("received_at", "received at"),
        "record_type",
        "status",
        "attempts",
        "short_error",
    )
    list_filter = ("status", "record_type", "received_at")
    search_fields = ("=body_sha256", "message__message_id", "error")
    date_hierarchy = "received_at"
    readonly_fields = fields_of(
        WebhookEvent,
        message="message_link",
        body="formatted_body",
        headers="formatted_headers",
    )
    actions = ("reprocess",)

    @admin.display(description="error")
    def short_error(self, row: WebhookEvent) -> str:
        return shortened(row.error, 60)

    @admin.display(description="Postmark MessageID")
    def message_link(self, row: WebhookEvent) -> SafeString:
        if row.message_id is None:
            return format_html("{}", "none")
        return changelist_link("message", row.message_id, message_id=str(row.message_id))

    @admin.display(description="body")
    def formatted_body(self, row: WebhookEvent) -> SafeString:
        return pretty_json(row.body)

    @admin.display(description="headers")
    def formatted_headers(self, row: WebhookEvent) -> SafeString:
        return pretty_json(row.headers)

    def has_reprocess_permission(self, request: HttpRequest) -> bool:
        # Reprocessing runs every receiver again (suppressions, bounces, message states): more
        # than viewing. "Change" is the permission no page of this read-only admin uses else.
        return request.user.has_perm("postmark.change_webhookevent")

    @admin.action(
        description="Reprocess selected failed or rejected events", permissions=["reprocess"]
    )
    def reprocess(self, request: HttpRequest, queryset: QuerySet[WebhookEvent]) -> None:
        outcomes = [webhooks.replay(pk) for pk in queryset.values_list("pk", flat=True)]
        done = sum(o.http_status == 200 and o.reason != "duplicate" for o in outcomes)
        skipped = sum(o.reason == "duplicate" for o in outcomes)
        failed = [o for o in outcomes if o.http_status != 200]
        self.message_user(request, f"{done} processed, {skipped} already processed.")
        for outcome in failed:
            pk = outcome.webhook_event.pk if outcome.webhook_event else "?"
            self.message_user(request, f"#{pk}: {outcome.detail}", messages.ERROR)


@admin.register(QueuedBatch)
class QueuedBatchAdmin(CheckedQueries, ReadOnlyAdmin):
    """A batch's state is changed by the worker and ``postmark_recover`` only; an "unknown"
    batch is for a person to check in Postmark's activity, then send again or not."""

    list_display = (
        compact_datetime("created_at", "created at"),
        "state_in_words",
        "message_count",
        "attempts",
        compact_datetime("finished_at", "finished at"),
    )
    list_filter = ("state", "created_at")
    search_fields = ("=id", "task_id")
    date_hierarchy = "created_at"
    readonly_fields = fields_of(QueuedBatch, state="state_in_words", messages="formatted_messages")

    @admin.display(description="state", ordering="state")
    def state_in_words(self, obj: QueuedBatch) -> str:
        return batch_state(obj)

    @admin.display(description="messages")
    def message_count(self, obj: QueuedBatch) -> int:
        return len(obj.messages)

    @admin.display(description="messages")
    def formatted_messages(self, obj: QueuedBatch) -> SafeString:
        return pretty_json(obj.messages)


@admin.register(DataRemoval)
class DataRemovalAdmin(CheckedQueries, ReadOnlyAdmin):
    list_display = (
        compact_datetime("requested_at", "requested at"),
        "postmark_id",
        "status",
        compact_datetime("checked_at", "status checked at"),
    )
    list_filter = ("status", "requested_at")
    search_fields = ("=email_sha256", "=postmark_id")
    readonly_fields = fields_of(DataRemoval, erased="formatted_erased")

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[DataRemoval], search_term: str
    ) -> tuple[QuerySet[DataRemoval], bool]:
        # The rows keep a keyed hash of the address, never the address: hash what was typed.
        if "@" in search_term:
            hashes = address_hashes(search_term.strip())
            return queryset.filter(email_sha256__in=hashes), False
        return super().get_search_results(request, queryset, search_term)

    @admin.display(description="erased here")
    def formatted_erased(self, obj: DataRemoval) -> SafeString:
        return pretty_json(obj.erased)
