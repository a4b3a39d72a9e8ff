"""Moved to ``postmark.sandbox.webhook_sender`` (this module posts webhooks; the app's
``postmark.webhooks`` receives them). Kept until the other branches are merged."""

from .webhook_sender import WebhookSender, split_credentials

__all__ = ["WebhookSender", "split_credentials"]
