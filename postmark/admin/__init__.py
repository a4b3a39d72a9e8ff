"""The admin: model admins (``model_admins``), actions that call Postmark (``actions``), inbound
mail (``inbound_admin``) and the overview page (``overview``). Importing the package registers
them all."""

from .inbound_admin import InboundMessageAdmin
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
    "InboundMessageAdmin",
    "MessageAdmin",
    "OverviewAdmin",
    "QueuedBatchAdmin",
    "SuppressionAdmin",
    "WebhookEventAdmin",
    "WebhookEventInline",
]
