"""Sending a message again, once, from the request its log row kept (``postmark.operations.settle``
decides when: only once Postmark's search has not found it)."""

from __future__ import annotations

from typing import Any

from django.core.mail import EmailMessage

from ..client import Client
from ..exceptions import PostmarkError
from ..results import PostmarkResult

#: Stands for the message in the result's rules (``PostmarkResult.from_api``...): the row keeps
#: its recipients, and the answer names them.
_NOBODY = EmailMessage()


def resend(client: Client, payload: dict[str, Any]) -> PostmarkResult:
    """The request again, on the endpoint its shape names (the Bulk API for ``Messages``, a
    template endpoint for ``TemplateId``/``TemplateAlias``); its result, "unknown" when the
    answer was lost once more. The client retries only what Postmark certainly did not take."""
    try:
        if "Messages" in payload:
            return PostmarkResult.from_bulk(client.send_bulk(payload), _NOBODY)
        template = "TemplateId" in payload or "TemplateAlias" in payload
        send = client.send_with_template if template else client.send
        return PostmarkResult.from_api(send(payload), _NOBODY)
    except PostmarkError as error:
        return PostmarkResult.from_error(error, _NOBODY)
