"""A blog whose posts take comments by email: the app of the documentation's "reply to this
email to comment" example (docs/inbound.rst, Reply addresses), installed by tests.settings so
that its example runs as written, in tests/inbound/test_reply_example.py."""

from __future__ import annotations

from django.apps import AppConfig


class BlogConfig(AppConfig):
    name = "tests.inbound.blog"
    label = "blog"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import mailboxes  # noqa: F401  (connects the "comments" mailbox)
