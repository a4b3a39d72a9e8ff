from __future__ import annotations

from django.contrib import admin

from .models import Message


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ("created_at", "status", "subject", "to", "tag", "message_stream", "message_id")
    list_filter = ("status", "message_stream", "tag", "created_at")
    search_fields = ("message_id", "to", "cc", "bcc", "subject", "from_email")
    date_hierarchy = "created_at"
    readonly_fields = [field.name for field in Message._meta.fields]

    def has_add_permission(self, request: object) -> bool:
        return False
