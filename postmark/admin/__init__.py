"""The admin: model admins (``model_admins``), actions that call Postmark (``actions``) and
the overview page (``overview``). Importing the package registers them all."""

from .model_admins import (
    BounceAdmin,
    BounceInline,
    DataRemovalAdmin,
    MessageAdmin,
    QueuedBatchAdmin,
    SuppressionAdmin,
    WebhookEventAdmin,
    WebhookEventInline,
)
from .overview import OverviewAdmin

__all__ = [
    "BounceAdmin",
    "BounceInline",
    "DataRemovalAdmin",
    "MessageAdmin",
    "OverviewAdmin",
    "QueuedBatchAdmin",
    "SuppressionAdmin",
    "WebhookEventAdmin",
    "WebhookEventInline",
]
