"""The inbound mail admin: the list of ``InboundMessage`` records and each one's page, read-only;
the message shown as text (``inbound_page``), its attachments as downloads; two actions, each
with its own permission: reprocess (``postmark.reprocess_inboundmessage``) and reroute
(``postmark.reroute_inboundmessage``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.template.defaultfilters import filesizeformat
from django.urls import URLPattern, path
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import content_disposition_header
from django.utils.safestring import SafeString

from ..conf import settings
from ..inbound import Unprocessable, read_mail, scheduling
from ..models import InboundMessage
from .display import ReadOnlyAdmin, change_link, compact_datetime, preformatted, shortened
from .inbound_page import shown
from .queries import CheckedQueries

Status = InboundMessage.Status
#: Why an action leaves a record as it is, by its status (the others it takes: ``AGAIN``).
SKIPPED_BECAUSE = {
    Status.PROCESSED: "already processed",
    Status.BOUNCED: "bounced by its mailbox",
    Status.ROUTED: "being processed by a worker",
}


class MailboxFilter(admin.SimpleListFilter):
    """The mailboxes POSTMARK_INBOUND_ROUTES names, read from the setting: listing the names the
    rows hold would be a DISTINCT over the whole table on every page."""

    title = "mailbox"
    parameter_name = "mailbox"

    def lookups(self, request: HttpRequest, model_admin: object) -> list[tuple[str, str]]:
        declared = settings.POSTMARK_INBOUND_ROUTES
        routes = declared if isinstance(declared, list | tuple) else []
        names = [route.get("mailbox") for route in routes if isinstance(route, dict)]
        return [(name, name) for name in dict.fromkeys(names) if isinstance(name, str) and name]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        return queryset.filter(mailbox=value) if value else queryset


# The page's fields, by section (``get_fieldsets``); the failure's only when there is one.
SUMMARY = ("state", "mailbox", "message_id", "received_at", "processed_at")
FAILURE = ("error_block", "traceback_block")
RECORDED = ("from_email", "to", "original_recipient", "subject", "mailbox_hash", "files")
PROCESSING = ("attempts", "claimed_at", "next_attempt_at", "note", "stored_as")


@admin.register(InboundMessage)
class InboundMessageAdmin(CheckedQueries, ReadOnlyAdmin):
    list_display = (
        compact_datetime("received_at", "received"),
        "status_column",
        "short_from",
        "short_subject",
        "files_column",
    )
    list_filter = ("status", MailboxFilter, "received_at")
    # The box is there for these; get_search_results says what it finds.
    search_fields = ("message_id", "from_email", "subject")
    search_help_text = (
        "A Postmark MessageID (exact), or the beginning of the sender's address or of the subject."
    )
    # No COUNT of the whole table beside the filtered one on every search.
    show_full_result_count = False
    date_hierarchy = "received_at"
    readonly_fields = (*SUMMARY, *FAILURE, *RECORDED, *PROCESSING)
    actions = ("reprocess", "reroute")

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        failed = obj is not None and bool(obj.error or obj.traceback)
        return [
            (None, {"fields": SUMMARY}),
            *([("Failure", {"fields": FAILURE})] if failed else []),
            (
                "As recorded",
                {
                    "fields": RECORDED,
                    # Folded: the message itself is shown below, whole.
                    "classes": ["collapse"],
                    "description": "What the record copied from the message, for lists and "
                    "searches (each cut to its column).",
                },
            ),
            ("Processing", {"fields": PROCESSING}),
        ]

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[InboundMessage], search_term: str
    ) -> tuple[QuerySet[InboundMessage], bool]:
        # The whole term, never split into words: a MessageID matches exactly (the unique
        # index), a sender or a subject by how it begins (no "%term%" over every row).
        term = search_term.strip()
        if not term:
            return queryset, False
        found = Q(message_id=term) | Q(from_email__istartswith=term)
        return queryset.filter(found | Q(subject__istartswith=term)), False

    # --- the list -------------------------------------------------------------------------

    @admin.display(description="status", ordering="status")
    def status_column(self, row: InboundMessage) -> str:
        # The mailbox and the error with the status, not in columns of their own: five columns
        # fit a laptop's screen beside the admin's two sidebars, and few rows have an error.
        status = str(row.get_status_display())
        if row.mailbox:
            status = f"{status} ({row.mailbox})"
        return f"{status}: {shortened(row.error, 40)}" if row.error else status

    @admin.display(description="from", ordering="from_email")
    def short_from(self, row: InboundMessage) -> SafeString:
        # A narrow column breaks the address before its "@", never inside a word.
        local, at, domain = shortened(row.from_email or "(no sender)", 40).partition("@")
        return format_html("{}<wbr>{}{}", local, at, domain)

    @admin.display(description="subject", ordering="subject")
    def short_subject(self, row: InboundMessage) -> str:
        return shortened(row.subject or "(no subject)", 50)

    @admin.display(description="attached", ordering="attachment_count")
    def files_column(self, row: InboundMessage) -> SafeString:
        # The count; their size on hover (and on the message's page): a narrow column.
        if not row.attachment_count:
            return format_html("{}", "-")
        size = filesizeformat(row.attachment_bytes)
        return format_html('<span title="{}">{}</span>', size, row.attachment_count)

    # --- the page --------------------------------------------------------------------------

    @admin.display(description="status")
    def state(self, row: InboundMessage) -> str:
        status = str(row.get_status_display())
        if row.status == Status.FAILED:
            if row.next_attempt_at is not None:
                return f"{status}: retried at {_when(row.next_attempt_at)} (attempt {row.attempts})"
            return f"{status}: not retried; reprocess it once the cause is fixed"
        if row.status == Status.UNROUTED:
            return f"{status}: no route matched; reroute it once one does"
        if row.status == Status.BOUNCED and row.note:
            return f"{status}: {row.note.splitlines()[0]}"  # the whole note is under Processing
        return status

    @admin.display(description="error")
    def error_block(self, row: InboundMessage) -> SafeString:
        return preformatted(row.error)

    @admin.display(description="traceback")
    def traceback_block(self, row: InboundMessage) -> SafeString:
        return preformatted(row.traceback)

    @admin.display(description="attachments")
    def files(self, row: InboundMessage) -> str:
        if not row.attachment_count:
            return "none"
        names = ", ".join(row.attachment_names)
        more = row.attachment_count - len(row.attachment_names)
        listed = f"{names} and {more} more" if more > 0 else names
        return f"{row.attachment_count}, {filesizeformat(row.attachment_bytes)}: {listed}"

    @admin.display(description="stored as")
    def stored_as(self, row: InboundMessage) -> SafeString:
        # The mail itself is the webhook's stored body; the record holds no copy of it.
        if row.webhook_event_id is None:
            return format_html("{}", "nothing: the webhook event that brought it was deleted")
        return change_link("webhookevent", row.webhook_event_id, "its webhook event")

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Any = None,
    ) -> HttpResponse:
        # Called once the page's permissions are checked: the message is read for those who
        # may see it, once per page.
        if obj is not None:
            context["inbound"] = shown(obj)
        return super().render_change_form(request, context, add, change, form_url, obj)

    # --- attachments -------------------------------------------------------------------------

    def get_urls(self) -> list[URLPattern]:
        download = self.admin_site.admin_view(self.attachment_view)
        # Before the admin's own: its "<path:object_id>/" would take this path.
        own = path(
            "<path:object_id>/attachment/<int:number>/",
            download,
            name="postmark_inboundmessage_attachment",
        )
        urls: list[URLPattern] = super().get_urls()
        return [own, *urls]

    def attachment_view(self, request: HttpRequest, object_id: str, number: int) -> HttpResponse:
        """The attachment's bytes, always as a download: named by its safe name, typed
        application/octet-stream whatever the sender said, never sniffed, never rendered."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        if request.method != "GET":
            return HttpResponseNotAllowed(["GET"])
        record = self.get_object(request, unquote(object_id))
        if record is None or not self.has_view_permission(request, record):
            raise Http404("No such inbound message.")
        try:
            attachments = read_mail(record).attachments
        except Unprocessable as exc:
            raise Http404(str(exc)) from None
        if not 1 <= number <= len(attachments):
            raise Http404("No such attachment.")
        attachment = attachments[number - 1]
        response = HttpResponse(attachment.content, content_type="application/octet-stream")
        response["Content-Disposition"] = content_disposition_header(True, attachment.name)
        response["X-Content-Type-Options"] = "nosniff"
        # Should a browser render it anyway: no script, no request, an origin of its own.
        response["Content-Security-Policy"] = "sandbox; default-src 'none'"
        return response

    # --- actions -----------------------------------------------------------------------------

    def has_reprocess_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("postmark.reprocess_inboundmessage")

    def has_reroute_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("postmark.reroute_inboundmessage")

    @admin.action(
        description="Reprocess selected messages (in the mailbox they were routed to)",
        permissions=["reprocess"],
    )
    def reprocess(self, request: HttpRequest, queryset: QuerySet[InboundMessage]) -> None:
        self._again(request, queryset, scheduling.reprocess, "reprocessing")

    @admin.action(
        description="Reroute selected messages (by the routes declared now)",
        permissions=["reroute"],
    )
    def reroute(self, request: HttpRequest, queryset: QuerySet[InboundMessage]) -> None:
        self._again(request, queryset, scheduling.reroute, "rerouting")

    def _again(
        self,
        request: HttpRequest,
        queryset: QuerySet[InboundMessage],
        operation: Callable[[QuerySet[InboundMessage]], int],
        doing: str,
    ) -> None:
        left = (
            queryset.exclude(status__in=scheduling.AGAIN)
            .values_list("status")
            .annotate(n=Count("pk"))
        )
        skipped = dict(left.order_by())
        scheduled = operation(queryset)
        self.message_user(
            request,
            f"{_messages(scheduled)} scheduled for {doing}.",
            messages.SUCCESS if scheduled else messages.INFO,
        )
        if skipped:
            reasons = "; ".join(
                f"{n} {SKIPPED_BECAUSE.get(status, status)}"
                for status, n in sorted(skipped.items())
            )
            self.message_user(
                request,
                f"{_messages(sum(skipped.values()))} skipped ({reasons}): only failed, unrouted "
                "and received mail is processed again.",
                messages.WARNING,
            )


def _messages(n: int) -> str:
    return f"{n} inbound message{'' if n == 1 else 's'}"


def _when(moment: Any) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M:%S")
