"""Moved to ``postmark.webhooks.views``; this path keeps older imports working."""

from .webhooks.auth import webhook_credentials
from .webhooks.views import inbound_hook, outbound_hook

__all__ = ["inbound_hook", "outbound_hook", "webhook_credentials"]
