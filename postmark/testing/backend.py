"""``PostmarkTestBackend``: an EMAIL_BACKEND for tests that sends nothing and keeps everything.

It is ``PostmarkBackend`` with Postmark replaced by an in-memory stand-in that accepts every
message: the same batching, ``pre_send`` and ``post_send`` signals (so suppression and the message
log run as in production), the same payloads and the same refusals of what Postmark cannot carry.
Each message sent lands in ``django.core.mail.outbox``, as with Django's locmem backend, with

- ``message.postmark_payload``: the JSON object Postmark would have received for it;
- ``message.postmark``: its result (status "sent", a MessageID, SubmittedAt).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import getaddresses
from typing import Any

from django.core import mail
from django.core.mail import EmailMessage

from ..backends import PostmarkBackend
from ..client import Client
from ..exceptions import PostmarkError


def _accepted(message: Mapping[str, Any], received: dict[str, Any]) -> dict[str, Any]:
    # Postmark answers with the bare addresses, lowercased.
    to = ", ".join(address.lower() for _, address in getaddresses([message.get("To") or ""]))
    result = {
        "To": to,
        "SubmittedAt": datetime.now(UTC).isoformat(),
        "MessageID": str(uuid.uuid4()),
        "ErrorCode": 0,
        "Message": "OK",
    }
    if not result["To"]:
        del result["To"]  # as Postmark answers a message with only Cc/Bcc
    received[str(result["MessageID"])] = message
    return result


class InMemoryClient(Client):
    """Answers the sending endpoints as Postmark does when it accepts everything; no network."""

    def __init__(self) -> None:
        super().__init__("in-memory", base_url="memory://postmark", max_retries=0)
        #: Each accepted message as Postmark decoded it, by the MessageID it was answered with.
        self.received: dict[str, Any] = {}

    def _attempt(
        self,
        session: Any,
        method: str,
        url: str,
        data: bytes | None,
        params: Mapping[str, Any] | None,
    ) -> Any:
        # The one attempt of Client.request(), after the client's own encoding: ``data`` is the
        # body Postmark would have received, so decoding it gives the payload as Postmark sees it.
        path = url.removeprefix(self.base_url)
        body: Any = json.loads(data) if data is not None else None
        if method == "POST" and path in ("/email", "/email/withTemplate"):
            return _accepted(body, self.received)
        if method == "POST" and path == "/email/batch":
            return [_accepted(message, self.received) for message in body]
        if method == "POST" and path == "/email/batchWithTemplates":
            return [_accepted(message, self.received) for message in body["Messages"]]
        if method == "POST" and path == "/email/bulk":
            submitted_at = datetime.now(UTC).isoformat()
            return {"ID": str(uuid.uuid4()), "Status": "Accepted", "SubmittedAt": submitted_at}
        raise PostmarkError(
            f"PostmarkTestBackend plays Postmark's sending endpoints only, not {method} {path}."
        )


class PostmarkTestBackend(PostmarkBackend):
    """``PostmarkBackend`` sending to memory; see the module's docstring. Needs no token."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # As Django's locmem backend: the outbox is there once a connection is, sent to or not.
        if not hasattr(mail, "outbox"):
            mail.outbox = []

    def open(self) -> bool:
        if self.client is not None:
            return False
        self.client = InMemoryClient()
        return True

    def _send_list(self, email_messages: list[EmailMessage]) -> int:
        # The in-memory client is made here, not by open(), so that it outlives the call and
        # its record of what it received can be read afterwards.
        opened_here = self.open()
        client = self.client
        assert isinstance(client, InMemoryClient)
        try:
            return super()._send_list(email_messages)
        finally:
            for message in email_messages:
                result = getattr(message, "postmark", None)
                payload = client.received.pop(getattr(result, "message_id", None) or "", None)
                if payload is not None:  # suppressed or refused ones never reached "Postmark"
                    # Documented (docs/testing.rst) for tests to read.
                    setattr(message, "postmark_payload", payload)  # noqa: B010
                    mail.outbox.append(message)
            if opened_here:
                self.close()
