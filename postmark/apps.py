from __future__ import annotations

from django.apps import AppConfig

from .installation.package import require_own_package


class PostmarkConfig(AppConfig):
    name = "postmark"
    verbose_name = "Postmark"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        require_own_package()  # before importing what another `postmark` may have overwritten
        from . import receivers, signals
        from .inbound import inspection  # noqa: F401  (registers the inbound checks)
        from .installation import checks, webhook_checks  # noqa: F401  (they register)

        # Every default receiver is connected, whatever the settings say now: each checks its
        # own setting when it runs (see receivers.honouring), so override_settings switches it.
        # Turn a setting off and connect your own receiver to replace a default. A dispatch_uid
        # keeps ready() running twice (tests) from connecting twice.
        connections = (
            (receivers.store_sent_messages, (signals.post_send,)),
            (receivers.skip_suppressed_recipients, (signals.pre_send,)),
            (receivers.store_bounce, (signals.bounce_received, signals.spam_complaint_received)),
            (receivers.store_inbound_message, (signals.inbound_received,)),
            (
                receivers.track_message_status,
                (signals.delivery_received, signals.open_received, signals.click_received),
            ),
            (
                receivers.record_suppressions,
                (
                    signals.bounce_received,
                    signals.spam_complaint_received,
                    signals.subscription_change_received,
                ),
            ),
        )
        for receiver, receiver_signals in connections:
            for signal in receiver_signals:
                signal.connect(receiver, dispatch_uid=f"postmark.{receiver.__name__}")
