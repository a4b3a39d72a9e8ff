"""Postmark's sending endpoints as the sandbox answers them: one message, a batch, with or
without a template; each accepted message is recorded and its webhooks scheduled."""

from __future__ import annotations

import re
import uuid
from typing import Any

from ..api.spec import MAX_BATCH, TEST_TOKEN
from .bouncing import bounce_type_for
from .routing import Answer, Request, Route
from .state import SandboxState, SentMessage, now, postmark_timestamp
from .validation import Refusal, ValidMessage, validate_message
from .webhook_sender import WebhookSender

INACTIVE = (
    "You tried to send to recipient(s) that have been marked as inactive. Found inactive "
    "addresses: {}. Inactive recipients are ones that have generated a hard bounce, a spam "
    "complaint, or a manual suppression."
)


class SendingAPI:
    """``/email``, ``/email/batch`` and their template forms; ``accept`` serves the Bulk API too."""

    def __init__(self, state: SandboxState, webhooks: WebhookSender) -> None:
        self.state = state
        self.webhooks = webhooks

    def routes(self) -> list[Route]:
        return [
            ("POST", re.compile(r"/email"), self.send),
            ("POST", re.compile(r"/email/batch"), self.send_batch),
            ("POST", re.compile(r"/email/withTemplate"), self.send_with_template),
            ("POST", re.compile(r"/email/batchWithTemplates"), self.send_batch_with_templates),
        ]

    def send(self, request: Request, template: bool = False) -> Answer:
        valid = validate_message(request.json(), template=template, streams=self.state.streams)
        return Answer(200, self.accept(valid, request))

    def send_with_template(self, request: Request) -> Answer:
        return self.send(request, template=True)

    def send_batch(self, request: Request, template: bool = False) -> Answer:
        body = request.json()
        # A template batch is {"Messages": [...]}; a plain batch is the array itself.
        wrapped = body.get("Messages") if isinstance(body, dict) else None
        items = wrapped if template else body
        if not isinstance(items, list):
            expected = '{"Messages": [...]}' if template else "a JSON array of messages"
            raise Refusal(402, f"Received invalid JSON input: expected {expected}.")
        if len(items) > MAX_BATCH:
            raise Refusal(410, f"Too many batch messages ({len(items)}). The limit is {MAX_BATCH}.")
        results = []
        for item in items:
            try:
                valid = validate_message(item, template=template, streams=self.state.streams)
                results.append(self.accept(valid, request))
            except Refusal as refusal:
                # A refused item never fails its batch: it gets its own ErrorCode.
                results.append(refusal.as_json())
        return Answer(200, results)

    def send_batch_with_templates(self, request: Request) -> Answer:
        return self.send_batch(request, template=True)

    def accept(self, valid: ValidMessage, request: Request) -> dict[str, Any]:
        """Record one valid message and schedule its webhooks; the result object, or a 406."""
        with self.state.lock:
            inactive = [r for r in valid.recipients if self.state.is_suppressed(r, valid.stream)]
            if inactive and len(set(inactive)) == len(set(valid.recipients)):
                raise Refusal(406, INACTIVE.format(", ".join(inactive)))
            test = request.headers.get("x-postmark-server-token") == TEST_TOKEN
            message = SentMessage(
                **vars(valid),
                message_id=str(uuid.uuid4()),
                submitted_at=now(),
                endpoint=request.path,
                test=test,
                outcomes={address: "inactive" for address in inactive},
            )
            self.state.add_message(message)
            if not test:
                for recipient in valid.recipients:
                    if recipient not in message.outcomes:
                        self._deliver_or_bounce(message, recipient)
        result: dict[str, Any] = {
            "To": ", ".join(valid.to),
            "SubmittedAt": postmark_timestamp(message.submitted_at, eastern=True),
            "MessageID": message.message_id,
            "ErrorCode": 0,
            "Message": "OK",
        }
        if not valid.to:
            del result["To"]  # as Postmark does for a message with only Cc/Bcc
        if inactive:
            result["Message"] = "OK, but will not deliver to these inactive addresses: " + (
                ", ".join(inactive)
            )
        return result

    def _deliver_or_bounce(self, message: SentMessage, recipient: str) -> None:
        bounce_type = bounce_type_for(recipient, message.headers)
        if bounce_type is None:
            message.outcomes[recipient] = "delivered"
            self.webhooks.send("Delivery", self._delivery_payload(message, recipient))
            return
        message.outcomes[recipient] = bounce_type.name
        bounce = self.state.add_bounce(bounce_type, message, recipient)
        self.webhooks.send(bounce_type.record_type, bounce.as_json(self.state.server_id))

    def _delivery_payload(self, message: SentMessage, recipient: str) -> dict[str, Any]:
        return {
            "RecordType": "Delivery",
            "ServerID": self.state.server_id,
            "MessageStream": message.stream,
            "MessageID": message.message_id,
            "Recipient": recipient,
            "Tag": message.tag,
            "DeliveredAt": postmark_timestamp(now()),
            "Details": "Test delivery webhook details from the django-postmark sandbox.",
            "Metadata": dict(message.metadata),
        }
