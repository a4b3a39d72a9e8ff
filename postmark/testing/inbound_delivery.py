"""Inbound mail through the site's real inbound webhook, in a project's own tests: what the
``postmark_inbound`` fixture and ``PostmarkInboundMixin.deliver_inbound()`` share.

The JSON is what the sandbox delivers (``postmark.sandbox.inbound_payload`` builds both), posted
with Django's test client to the URL named ``postmark_inbound_hook`` with the webhook
credentials the project configured: the view, its authentication, the stored event, the kept
``InboundMessage``, the routes and the project's mailboxes run as they do for Postmark's own
post (the mailboxes before ``deliver()`` returns where processing runs in the web process: the
immediate task backend, or POSTMARK_INBOUND_PROCESSING "sync").
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email.message import Message
from functools import cached_property
from typing import Any

from django.core.mail import EmailMessage as DjangoEmailMessage
from django.db import DEFAULT_DB_ALIAS
from django.http import HttpResponseBase
from django.test import Client, TestCase
from django.urls import reverse

from ..events.inbound import InboundEvent
from ..inbound.intake import record_key
from ..models import InboundMessage, WebhookEvent
from ..sandbox.inbound_payload import AttachedFile, Recipient, compose, payload
from ..webhooks.auth import webhook_credentials

__all__ = ["AttachedFile", "InboundDelivery", "InboundTestClient"]

#: What ``attachments`` takes besides ``AttachedFile``: Django's ``(filename, content, mimetype)``.
FileLike = AttachedFile | tuple[str, bytes | str, str | None]


@dataclass
class InboundDelivery:
    """One post of inbound mail to the site: the view's ``response``, the ``payload`` posted."""

    response: HttpResponseBase
    payload: dict[str, Any]
    #: The request's body, as the view received it.
    body: bytes

    @property
    def status_code(self) -> int:
        return self.response.status_code

    @cached_property
    def event(self) -> InboundEvent:
        """The payload as the app reads it (``event.message``, ``event.mailbox_hash``...)."""
        return InboundEvent.from_payload(self.payload)

    @property
    def webhook_event(self) -> WebhookEvent | None:
        """The row the view stored for this post (keyed on its body), if it stored one."""
        return WebhookEvent.objects.filter(body_sha256=self._body_sha256).first()

    @property
    def inbound_message(self) -> InboundMessage | None:
        """The kept message (``InboundMessage``: its status, mailbox, error), read now."""
        key = record_key(str(self.payload.get("MessageID") or ""), self._body_sha256)
        return InboundMessage.objects.filter(message_id=key).first()

    @property
    def _body_sha256(self) -> str:
        return hashlib.sha256(self.body).hexdigest()


class InboundTestClient:
    """Delivers inbound mail to the site's inbound webhook (``url``: by default the URL named
    ``postmark_inbound_hook``); calling it is calling ``deliver()``."""

    def __init__(self, url: str | None = None, *, using: str = DEFAULT_DB_ALIAS) -> None:
        self.url = url
        self.using = using

    def __call__(self, **fields: Any) -> InboundDelivery:
        return self.deliver(**fields)

    def deliver(
        self,
        *,
        to: Recipient | Sequence[Recipient] = (),
        from_email: Recipient = "Sender <sender@example.com>",
        subject: str = "",
        text: str = "",
        html: str = "",
        cc: Sequence[Recipient] = (),
        bcc: Sequence[str] = (),
        reply_to: Sequence[Recipient] = (),
        headers: Mapping[str, str] | Sequence[tuple[str, str]] = (),
        attachments: Sequence[FileLike] = (),
        message: DjangoEmailMessage | Message | bytes | None = None,
        recipient: str = "",
        raw: bool = True,
        tag: str = "",
    ) -> InboundDelivery:
        """Post the mail as Postmark would. Either write it (``to`` at least), or give a
        ``message``: a Django ``EmailMessage``, an ``email.message.Message`` or an ``.eml``'s
        bytes. ``recipient`` is the address it came to (``OriginalRecipient``; its ``+hash``
        is the ``MailboxHash``): by default the first To. ``raw`` includes ``RawEmail``."""
        if message is None:
            if not to:
                raise TypeError("deliver() needs to= (or message=).")
            pairs = list(headers.items()) if isinstance(headers, Mapping) else list(headers)
            message = compose(
                from_email=from_email,
                to=to,
                cc=cc,
                reply_to=reply_to,
                subject=subject,
                text=text,
                html=html,
                headers=pairs,
                attachments=[_attachment(item) for item in attachments],
            )
        elif to or text or html or subject or attachments or cc or reply_to or headers:
            raise TypeError("Give message=, or the mail's fields, not both.")
        if isinstance(message, DjangoEmailMessage):
            bcc = [*bcc, *message.bcc]  # a Bcc is on no header of the rendered message
            message = message.message()
        body = payload(message, recipient=recipient, bcc=bcc, raw_email=raw, tag=tag)
        return self.post(body)

    def post(self, body: Mapping[str, Any]) -> InboundDelivery:
        """Post any JSON as it is (Postmark's "check" payload, a hand-made one) to the view.

        Work the site defers to the commit (``transaction.on_commit``: inbound mail's processing
        is scheduled there) runs before this returns, as it would after Postmark's request,
        also inside a test's transaction."""
        data = json.dumps(body).encode()
        headers: dict[str, str] = {}
        credentials = webhook_credentials()
        if credentials:
            pair = ":".join(credentials[0]).encode()
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
        url = self.url or reverse("postmark_inbound_hook")
        with TestCase.captureOnCommitCallbacks(using=self.using, execute=True):
            response = Client().post(
                url, data=data, content_type="application/json", headers=headers
            )
        return InboundDelivery(response, dict(body), data)


def _attachment(item: FileLike) -> AttachedFile:
    if isinstance(item, AttachedFile):
        return item
    name, content, mimetype = item
    data = content.encode() if isinstance(content, str) else content
    return AttachedFile(name, data, mimetype or "application/octet-stream")
