from __future__ import annotations

from django.apps import AppConfig

from .installation import require_own_package


class PostmarkConfig(AppConfig):
    name = "postmark"
    verbose_name = "Postmark"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        require_own_package()  # before importing what another `postmark` may have overwritten
        from . import checks, receivers, signals  # noqa: F401  (checks registers itself)
        from .conf import settings

        # Connected with a dispatch_uid so that ready() running twice (tests) connects once.
        # Turn a setting off and connect your own receiver to replace a default.
        if settings.POSTMARK_STORE_MESSAGES:
            signals.post_send.connect(
                receivers.store_sent_messages, dispatch_uid="postmark.store_sent_messages"
            )
        # Webhooks: each default receiver behind its own setting (see conf.py, "Webhooks").
        webhook_receivers = (
            (
                settings.POSTMARK_STORE_EVENTS,
                receivers.store_bounce,
                (signals.bounce_received, signals.spam_complaint_received),
            ),
            (
                settings.POSTMARK_STORE_EVENTS,
                receivers.track_message_status,
                (signals.delivery_received, signals.open_received, signals.click_received),
            ),
            (
                settings.POSTMARK_RECORD_SUPPRESSIONS,
                receivers.record_suppressions,
                (
                    signals.bounce_received,
                    signals.spam_complaint_received,
                    signals.subscription_change_received,
                ),
            ),
            (
                settings.POSTMARK_SKIP_SUPPRESSED,
                receivers.skip_suppressed_recipients,
                (signals.pre_send,),
            ),
        )
        for enabled, receiver, receiver_signals in webhook_receivers:
            for signal in receiver_signals if enabled else ():
                signal.connect(receiver, dispatch_uid=f"postmark.{receiver.__name__}")
