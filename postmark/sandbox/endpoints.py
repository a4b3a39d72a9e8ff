"""Postmark's API as the sandbox answers it: routing, the sending and bounce/suppression
endpoints. Transport-free (bytes in, ``Answer`` out) so that server.py stays about HTTP."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

from ..facts import MAX_BATCH, TEST_TOKEN
from .bouncing import bounce_type_for
from .state import Bounce, SandboxState, SentMessage, now, postmark_timestamp
from .validation import ADDRESS, Refusal, ValidMessage, validate_message
from .webhook_sender import WebhookSender

MISSING_TOKEN = "Request does not contain a valid Server token."
WRONG_TOKEN = (
    "The Server Token you provided in the X-Postmark-Server-Token request header was invalid. "
    "Please verify that you are using a valid token."
)
#: Endpoints of Postmark's account API, which take an account token instead of a server token.
ACCOUNT_PATHS = ("/data-removals",)
MISSING_ACCOUNT_TOKEN = "Request does not contain a valid Account token."
INACTIVE = (
    "You tried to send to recipient(s) that have been marked as inactive. Found inactive "
    "addresses: {}. Inactive recipients are ones that have generated a hard bounce, a spam "
    "complaint, or a manual suppression."
)


@dataclass
class Answer:
    status: int
    body: Any  # JSON-encoded, unless it is already text (the HTML page)
    content_type: str = "application/json"

    @classmethod
    def refusal(cls, refusal: Refusal) -> Answer:
        return cls(refusal.http_status, refusal.as_json())


@dataclass
class Request:
    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]  # names lowercased
    body: bytes

    def json(self) -> Any:
        try:
            return json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise Refusal(402, "Received invalid JSON input.") from None


class PostmarkAPI:
    def __init__(self, state: SandboxState, webhooks: WebhookSender, token: str | None) -> None:
        self.state = state
        self.webhooks = webhooks
        #: The one server token accepted (besides the test token); None accepts any token.
        self.token = token
        #: The one account token the account API (data removals) accepts; None accepts any.
        self.account_token: str | None = None
        streams = r"/message-streams/([^/]+)/suppressions"
        self.routes: list[tuple[str, re.Pattern[str], Callable[..., Answer]]] = [
            ("POST", re.compile(r"/email"), self.send),
            ("POST", re.compile(r"/email/batch"), self.send_batch),
            ("POST", re.compile(r"/email/withTemplate"), self.send_with_template),
            ("POST", re.compile(r"/email/batchWithTemplates"), self.send_batch_with_templates),
            ("GET", re.compile(r"/bounces"), self.list_bounces),
            ("GET", re.compile(r"/bounces/(\d+)"), self.get_bounce),
            ("GET", re.compile(r"/bounces/(\d+)/dump"), self.get_dump),
            ("PUT", re.compile(r"/bounces/(\d+)/activate"), self.activate),
            ("GET", re.compile(streams + "/dump"), self.dump_suppressions),
            ("POST", re.compile(streams), self.suppress),
            ("POST", re.compile(streams + "/delete"), self.unsuppress),
        ]

    def handle(self, request: Request) -> Answer:
        allowed = [(m, p, v) for m, p, v in self.routes if p.fullmatch(request.path.rstrip("/"))]
        if not allowed:
            return Answer(404, {"ErrorCode": 404, "Message": f"No such endpoint: {request.path}"})
        matches = [(p, v) for m, p, v in allowed if m == request.method]
        if not matches:
            return Answer(405, {"ErrorCode": 405, "Message": f"{request.method} not allowed here."})
        pattern, view = matches[0]
        try:
            self._authenticate(request)
            if request.method == "POST" and "json" not in request.headers.get("content-type", ""):
                raise Refusal(409, "JSON data required", http_status=415)
            match = pattern.fullmatch(request.path.rstrip("/"))
            assert match is not None
            return view(request, *match.groups())
        except Refusal as refusal:
            return Answer.refusal(refusal)

    def _authenticate(self, request: Request) -> None:
        if request.path.startswith(ACCOUNT_PATHS):
            given = request.headers.get("x-postmark-account-token", "").strip()
            if not given or (self.account_token and given != self.account_token):
                raise Refusal(10, MISSING_ACCOUNT_TOKEN, http_status=401)
            return
        given = request.headers.get("x-postmark-server-token", "").strip()
        if not given:
            raise Refusal(10, MISSING_TOKEN, http_status=401)
        if self.token and given not in (self.token, TEST_TOKEN):
            raise Refusal(10, WRONG_TOKEN, http_status=401)

    # --- Sending -----------------------------------------------------------------------------

    def send(self, request: Request, template: bool = False) -> Answer:
        valid = validate_message(request.json(), template=template, streams=self.state.streams)
        return Answer(200, self._accept(valid, request))

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
                results.append(self._accept(valid, request))
            except Refusal as refusal:
                # A refused item never fails its batch: it gets its own ErrorCode.
                results.append(refusal.as_json())
        return Answer(200, results)

    def send_batch_with_templates(self, request: Request) -> Answer:
        return self.send_batch(request, template=True)

    def _accept(self, valid: ValidMessage, request: Request) -> dict[str, Any]:
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

    # --- Bounces -----------------------------------------------------------------------------

    def list_bounces(self, request: Request) -> Answer:
        count, offset = _paging(request.query)
        query = request.query
        bounces = sorted(self.state.snapshot()["bounces"], key=lambda b: b.id, reverse=True)
        filters: list[Callable[[Bounce], bool]] = []
        if query.get("type"):
            filters.append(lambda b: b.bounce_type.name == query["type"])
        if query.get("inactive"):
            wanted = _boolean("inactive", query["inactive"])
            filters.append(lambda b: b.inactive == wanted)
        if query.get("emailFilter"):
            filters.append(lambda b: query["emailFilter"].lower() in b.email)
        if query.get("tag"):
            filters.append(lambda b: b.message.tag == query["tag"])
        if query.get("messageID"):
            filters.append(lambda b: b.message.message_id == query["messageID"])
        if query.get("messageStream"):
            filters.append(lambda b: b.message.stream == query["messageStream"])
        if query.get("fromdate"):
            start = _date("fromdate", query["fromdate"])
            filters.append(lambda b: b.bounced_at >= start)
        if query.get("todate"):
            end = _date("todate", query["todate"], end_of_day=True)
            filters.append(lambda b: b.bounced_at <= end)
        matching = [b for b in bounces if all(check(b) for check in filters)]
        page = matching[offset : offset + count]
        server_id = self.state.server_id
        return Answer(
            200, {"TotalCount": len(matching), "Bounces": [b.as_json(server_id) for b in page]}
        )

    def _bounce(self, bounce_id: str) -> Bounce:
        bounce = self.state.bounces.get(int(bounce_id))
        if bounce is None:
            raise Refusal(407, f"Bounce {bounce_id} was not found.", http_status=404)
        return bounce

    def get_bounce(self, request: Request, bounce_id: str) -> Answer:
        return Answer(200, self._bounce(bounce_id).as_json(self.state.server_id))

    def get_dump(self, request: Request, bounce_id: str) -> Answer:
        return Answer(200, {"Body": _raw_source(self._bounce(bounce_id))})

    def activate(self, request: Request, bounce_id: str) -> Answer:
        bounce = self._bounce(bounce_id)
        if not bounce.can_activate:
            raise Refusal(1003, "This bounce cannot be activated: it is a spam complaint.")
        with self.state.lock:
            self.state.unsuppress(bounce.email, bounce.message.stream)
            bounce.inactive = False
        return Answer(200, {"Message": "OK", "Bounce": bounce.as_json(self.state.server_id)})

    # --- Suppressions ------------------------------------------------------------------------

    def _stream(self, stream: str) -> str:
        if stream not in self.state.streams:
            raise Refusal(1235, f"The message stream '{stream}' was not found on this server.")
        return stream

    def dump_suppressions(self, request: Request, stream: str) -> Answer:
        self._stream(stream)
        query = request.query
        start = _date("fromdate", query["fromdate"]) if query.get("fromdate") else None
        end = _date("todate", query["todate"], end_of_day=True) if query.get("todate") else None
        found = [
            s.as_json()
            for s in self.state.snapshot()["suppressions"]
            if s.stream == stream
            and query.get("SuppressionReason", s.reason) == s.reason
            and query.get("Origin", s.origin) == s.origin
            and query.get("EmailAddress", s.email).lower() == s.email
            and (start is None or s.created_at >= start)
            and (end is None or s.created_at <= end)
        ]
        return Answer(200, {"Suppressions": found})

    def suppress(self, request: Request, stream: str) -> Answer:
        statuses = []
        for email in _suppression_addresses(request, self._stream(stream)):
            if not ADDRESS.match(email):
                statuses.append(_status(email, "Failed", "An invalid email address was provided."))
                continue
            self.state.suppress(email, stream, "ManualSuppression", "Customer")
            statuses.append(_status(email.lower(), "Suppressed", None))
        return Answer(200, {"Suppressions": statuses})

    def unsuppress(self, request: Request, stream: str) -> Answer:
        statuses = []
        for email in _suppression_addresses(request, self._stream(stream)):
            with self.state.lock:
                existing = self.state.suppressions.get((stream, email.lower()))
                if existing is not None and existing.reason == "SpamComplaint":
                    message = "You do not have the required authority to change this suppression."
                    statuses.append(_status(email.lower(), "Failed", message))
                    continue
                self.state.unsuppress(email, stream)
            statuses.append(_status(email.lower(), "Deleted", None))
        return Answer(200, {"Suppressions": statuses})


def _status(email: str, status: str, message: str | None) -> dict[str, Any]:
    return {"EmailAddress": email, "Status": status, "Message": message}


def _suppression_addresses(request: Request, stream: str) -> list[str]:
    body = request.json()
    items = body.get("Suppressions") if isinstance(body, dict) else None
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise Refusal(402, 'Received invalid JSON input: expected {"Suppressions": [...]}.')
    if len(items) > 50:
        raise Refusal(403, "At most 50 suppressions may be changed per request.")
    return [str(item.get("EmailAddress") or "") for item in items]


def _paging(query: Mapping[str, str]) -> tuple[int, int]:
    try:
        count, offset = int(query["count"]), int(query["offset"])
    except (KeyError, ValueError):
        raise Refusal(403, "The 'count' and 'offset' parameters are required numbers.") from None
    if not 1 <= count <= 500 or offset < 0:
        raise Refusal(403, "'count' must be from 1 to 500 and 'offset' at least 0.")
    return count, offset


def _boolean(name: str, value: str) -> bool:
    if value.lower() not in ("true", "false"):
        raise Refusal(403, f"'{name}' must be true or false.")
    return value.lower() == "true"


def _date(name: str, value: str, *, end_of_day: bool = False) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise Refusal(403, f"'{name}' must be a date such as 2026-11-27.") from None
    if end_of_day and len(value) == 10:
        moment = moment.replace(hour=23, minute=59, second=59, microsecond=999999)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _raw_source(bounce: Bounce) -> str:
    """The bounced message as the receiving server would have returned it."""
    message = bounce.message
    source = EmailMessage()
    source["From"] = message.sender
    source["To"] = bounce.email
    source["Subject"] = message.subject
    source["Message-ID"] = f"<{message.message_id}@sandbox.postmark.local>"
    source["X-PM-Bounce-Type"] = bounce.bounce_type.name
    source.set_content(message.text_body or message.html_body or "")
    return source.as_string()
