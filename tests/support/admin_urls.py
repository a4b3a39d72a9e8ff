"""Admin pages of the app found from their URL patterns, and the rows they show: the URL of a
pattern for one row (``object_id``) and one attachment of it (``number``), and an inbound
message kept with its content as the webhook keeps it."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from django.urls import URLPattern, reverse
from django.utils import timezone

from postmark.models import InboundMessage, WebhookEvent
from tests.support import webhook_payloads as payloads

_PARAMETER = re.compile(r"<(?:\w+:)?(\w+)>")
#: A value for each parameter of the app's admin URLs besides the row's primary key.
_VALUES = {"number": "1"}


def page_url(pattern: URLPattern, pk: object = None) -> str:
    """The URL of the named ``pattern``: for the row ``pk`` if it takes one, and its first
    attachment if it takes that too."""
    names = _PARAMETER.findall(str(pattern.pattern))
    kwargs = {name: str(pk) if name == "object_id" else _VALUES[name] for name in names}
    return reverse(f"admin:{pattern.name}", kwargs=kwargs)


def kept_inbound(payload: dict[str, Any] | None = None, **fields: Any) -> InboundMessage:
    """An inbound message (Postmark's sample, with an attachment, unless ``payload`` is given)
    kept with its stored webhook body, as the inbound webhook leaves it; ``fields`` set the
    record's columns (status "failed" with an error, say)."""
    payload = payloads.inbound() if payload is None else payload
    body = json.dumps(payload)
    now = timezone.now()
    event = WebhookEvent.objects.create(
        body_sha256=hashlib.sha256(body.encode()).hexdigest(),
        record_type="Inbound",
        status="processed",
        body=body,
        received_at=now,
        processed_at=now,
    )
    attachments = payload.get("Attachments") or []
    columns = {
        "message_id": payload["MessageID"],
        "webhook_event": event,
        "status": InboundMessage.Status.UNROUTED,
        "from_email": payload.get("From", ""),
        "to": payload.get("To", ""),
        "subject": payload.get("Subject", ""),
        "attachment_count": len(attachments),
        "attachment_names": [a["Name"] for a in attachments],
        "received_at": now,
        **fields,
    }
    return InboundMessage.objects.create(**columns)
