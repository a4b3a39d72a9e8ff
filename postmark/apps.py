from __future__ import annotations

from django.apps import AppConfig


class PostmarkConfig(AppConfig):
    name = "postmark"
    verbose_name = "Postmark"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks, receivers, signals  # noqa: F401  (checks registers itself)
        from .conf import settings

        # Connected with a dispatch_uid so that ready() running twice (tests) connects once.
        # Turn a setting off and connect your own receiver to replace a default.
        if settings.POSTMARK_STORE_MESSAGES:
            signals.post_send.connect(
                receivers.store_sent_messages, dispatch_uid="postmark.store_sent_messages"
            )
