from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from .models import Comment, Post


class CommentInline(admin.TabularInline):
    model = Comment
    extra = 0
    readonly_fields = ("email", "text", "created_at")

    def has_add_permission(self, request: HttpRequest, obj: Post | None = None) -> bool:
        return False  # comments come by email


@admin.register(Post)
class PostAdmin(admin.ModelAdmin):
    list_display = ("title", "created_at")
    inlines = [CommentInline]
