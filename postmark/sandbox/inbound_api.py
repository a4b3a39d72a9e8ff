"""Inbound mail in the sandbox: the server's inbound settings, as Postmark's Server API has them
(``GET``/``PUT /server``: ``InboundHookUrl``, ``RawEmailEnabled``), and two ways to have mail
delivered to that URL as Postmark would (``inbound_payload`` builds the JSON): the form of
``GET /sandbox/inbound``, and ``POST /sandbox/inbound`` with the message as ``message/rfc822``
(what ``manage.py postmark_inbound_deliver`` sends), whose delivery
``GET /sandbox/inbound/{id}`` follows.

Of the two, only the form can be posted by a page of another origin (a ``multipart/form-data``
post needs no CORS preflight; ``message/rfc822`` does, and the sandbox grants none). So the
form must carry the sandbox's form token, which no other origin can read (server.py answers
only to the sandbox's own names, so a page cannot rebind its name to load the form), and what
the browser says of where the post comes from (``Sec-Fetch-Site``, ``Origin``, ``Referer``)
must be the sandbox itself.
"""

from __future__ import annotations

import hmac
import re
import secrets
from collections.abc import Collection, Mapping
from email import policy
from email.message import Message
from email.parser import BytesParser
from email.utils import getaddresses
from typing import Any
from urllib.parse import urlsplit

from ..api.spec import MAX_INBOUND_ATTACHMENT_BYTES
from .inbound_page import render_form, reply_values
from .inbound_payload import MAX_EML_BYTES, AttachedFile, MailError, compose, payload
from .page import INBOUND_FORM
from .routing import Answer, Request, Route
from .state import SandboxState, SentMessage, WebhookDelivery
from .webhook_sender import WebhookSender, shown_url

#: The record type the sandbox shows inbound deliveries under (Postmark's JSON has none).
INBOUND = "Inbound"
FORM_PATH = INBOUND_FORM
_DELIVERY_PATH = re.compile(r"/sandbox/inbound/(\d+)")
#: What a post to FORM_PATH may hold: the largest message, and a form's fields around it.
READ_LIMIT = MAX_EML_BYTES + 1024 * 1024
_HTML = "text/html; charset=utf-8"
_FORM_FIELDS = ("from", "to", "cc", "subject", "in_reply_to", "text", "html")


def is_inbound_path(path: str) -> bool:
    return path.rstrip("/") == FORM_PATH or bool(_DELIVERY_PATH.fullmatch(path))


class InboundAPI:
    """The inbound stream's settings and deliveries; ``url`` (``http://user:pass@host/path``)
    is the server's inbound webhook, ``raw_email`` whether the JSON carries ``RawEmail``."""

    def __init__(
        self,
        state: SandboxState,
        webhooks: WebhookSender,
        *,
        url: str | None = None,
        raw_email: bool = True,
    ) -> None:
        self.state = state
        self.webhooks = webhooks
        self.url = url
        self.raw_email = raw_email
        self.inbound_hash = secrets.token_hex(16)
        #: Proves that a form post comes from the sandbox's own page (see the module's doc).
        self.form_token = secrets.token_urlsafe(32)

    @property
    def target(self) -> str | None:
        """The inbound URL without its password, fit to print and show."""
        return shown_url(self.url) if self.url else None

    def routes(self) -> list[Route]:
        return [
            ("GET", re.compile(r"/server"), self.get_server),
            ("PUT", re.compile(r"/server"), self.edit_server),
        ]

    def get_server(self, request: Request) -> Answer:
        return Answer(200, self._server_json())

    def edit_server(self, request: Request) -> Answer:
        body = request.json()
        if not isinstance(body, dict):
            return Answer(422, {"ErrorCode": 402, "Message": "Expected a JSON object."})
        if "InboundHookUrl" in body:
            url = body["InboundHookUrl"] or ""
            if url and (not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https")):
                return Answer(422, {"ErrorCode": 300, "Message": "Invalid 'InboundHookUrl'."})
            self.url = url or None
        if "RawEmailEnabled" in body:
            self.raw_email = bool(body["RawEmailEnabled"])
        return Answer(200, self._server_json())

    def _server_json(self) -> dict[str, Any]:
        return {
            "ID": self.state.server_id,
            "Name": "Sandbox",
            "InboundHash": self.inbound_hash,
            "InboundAddress": f"{self.inbound_hash}@inbound.postmarkapp.com",
            "InboundDomain": "",
            "InboundHookUrl": self.url or "",
            "RawEmailEnabled": self.raw_email,
        }

    def deliver(self, source: bytes | Message, *, recipient: str = "") -> WebhookDelivery:
        """Post the mail (its MIME source, or a message) to the inbound URL as Postmark would,
        retried like every webhook; ``recipient`` is the address it was delivered to (by
        default its first To). A ``MailError`` says why it cannot be."""
        if not self.url:
            raise MailError(
                "No inbound webhook URL: start postmark_sandbox with --inbound-url (or "
                "POSTMARK_SANDBOX_INBOUND_URL), or set InboundHookUrl with PUT /server."
            )
        body = payload(source, recipient=recipient, raw_email=self.raw_email)
        delivery = self.webhooks.send_to(self.url, INBOUND, body)
        if delivery is None:
            raise MailError("Webhooks are switched off (PUT /sandbox/webhooks): nothing is posted.")
        return delivery

    # --- The sandbox's own endpoints ----------------------------------------------------------

    def handle(self, request: Request, origins: Collection[str]) -> Answer:
        """``/sandbox/inbound`` (the form; a post) and ``/sandbox/inbound/{id}``; ``origins``
        are the sandbox's own (``http://127.0.0.1:8025``...)."""
        found = _DELIVERY_PATH.fullmatch(request.path)
        if found and request.method == "GET":
            delivery = self._delivery(int(found.group(1)))
            if delivery is None:
                return Answer(404, {"Message": f"No inbound delivery {found.group(1)}."})
            return Answer(200, delivery_json(delivery))
        if found or request.method not in ("GET", "POST"):
            return Answer(405, {"Message": f"{request.method} not allowed here."})
        if request.method == "GET":
            return self._form_for(request.query.get("reply"))
        kind = request.headers.get("content-type", "").partition(";")[0].strip().lower()
        if kind == "multipart/form-data":
            return self._post_form(request, origins)
        if kind != "message/rfc822":
            return Answer(415, {"Message": "Post the form, or a message as message/rfc822."})
        try:
            delivery = self.deliver(request.body, recipient=request.query.get("recipient", ""))
        except MailError as exc:
            return Answer(413 if exc.too_large else 422, {"Message": str(exc)})
        return Answer(200, delivery_json(delivery))

    def _delivery(self, number: int) -> WebhookDelivery | None:
        with self.state.lock:
            return next(
                (
                    d
                    for d in self.state.webhook_deliveries
                    if d.id == number and d.record_type == INBOUND
                ),
                None,
            )

    def _form_for(self, reply: str | None) -> Answer:
        """The empty form, or (``?reply=<MessageID>``) the form as that message's reply."""
        if reply is None:
            return self._form_page(200)
        message = self._sent(reply)
        if message is None:
            missing = f"No message {reply[:100]!r} was sent: nothing to reply to."
            return self._form_page(404, error=missing)
        return self._form_page(200, reply_values(message), replying_to=message.subject)

    def _sent(self, message_id: str) -> SentMessage | None:
        with self.state.lock:
            return next((m for m in self.state.messages if m.message_id == message_id), None)

    def _form_page(
        self,
        status: int,
        values: Mapping[str, str] | None = None,
        error: str = "",
        replying_to: str = "",
    ) -> Answer:
        page = render_form(
            token=self.form_token,
            target=self.target,
            raw_email=self.raw_email,
            values=values,
            error=error,
            limit_mb=MAX_INBOUND_ATTACHMENT_BYTES // (1024 * 1024),
            replying_to=replying_to,
        )
        return Answer(status, page, _HTML, {"Cache-Control": "no-store"})

    def _post_form(self, request: Request, origins: Collection[str]) -> Answer:
        refused = Answer(
            403,
            "Refused: this form takes posts from the sandbox's own page only.",
            "text/plain; charset=utf-8",
        )
        if not _from_itself(request.headers, origins):
            return refused
        fields, files = _form_data(request)
        if not hmac.compare_digest(fields.get("token", "").encode(), self.form_token.encode()):
            return refused
        values = {name: fields.get(name, "") for name in _FORM_FIELDS}
        try:
            source, recipient = _mail_of(values, files)
            self.deliver(source, recipient=recipient)
        except MailError as exc:
            return self._form_page(413 if exc.too_large else 400, values, str(exc))
        return Answer(303, "", _HTML, {"Location": "/#webhooks"})


def delivery_json(delivery: WebhookDelivery) -> dict[str, Any]:
    return {
        "ID": delivery.id,
        "MessageID": delivery.payload.get("MessageID"),
        "Url": delivery.url,
        "State": delivery.state,
        "Attempts": [{"Status": a.status, "Error": a.error} for a in delivery.attempts],
    }


def _from_itself(headers: Mapping[str, str], origins: Collection[str]) -> bool:
    """Whether the browser says the post comes from the sandbox's own page; a client that says
    nothing (not a browser) is left to the token."""
    site = headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return False
    origin = headers.get("origin")
    if origin is not None:
        return origin.lower() in origins
    referer = headers.get("referer")
    if referer is not None:
        parts = urlsplit(referer)
        return f"{parts.scheme}://{parts.netloc}".lower() in origins
    return True


_Files = list[tuple[str, str, str, bytes]]  # (field, filename, content type, content)


def _form_data(request: Request) -> tuple[dict[str, str], _Files]:
    """The form's fields and files (RFC 7578), each part's headers read by the standard
    library. Its MIME parser is not given the whole body: it would parse an uploaded ``.eml``
    (sent as ``message/rfc822``) into a message, where the file's own bytes are wanted."""
    holder = Message()
    holder["Content-Type"] = " ".join(request.headers.get("content-type", "").split())
    boundary = holder.get_boundary()
    fields: dict[str, str] = {}
    files: _Files = []
    if not boundary:
        return fields, files
    # One split: each part once, time linear in the body.
    for chunk in (b"\r\n" + request.body).split(b"\r\n--" + boundary.encode("latin-1"))[1:]:
        if chunk.startswith(b"--"):
            break  # the closing delimiter
        head, _, content = chunk.partition(b"\r\n\r\n")
        part = BytesParser(policy=policy.HTTP).parsebytes(head.lstrip() + b"\r\n\r\n")
        params = getattr(part.get("Content-Disposition"), "params", None) or {}
        name = params.get("name")
        if not isinstance(name, str):
            continue
        if "filename" not in params:
            fields.setdefault(name, content.decode("utf-8", "replace"))
        elif params["filename"] or content:  # an empty file input: no name, no content
            files.append((name, str(params["filename"]), part.get_content_type(), content))
    return fields, files


def _mail_of(values: Mapping[str, str], files: _Files) -> tuple[bytes | Message, str]:
    """The mail the form describes, and the address it is delivered to."""
    to = getaddresses([values["to"]]) if values["to"].strip() else []
    if to and "@" not in to[0][1]:
        raise MailError(f"To: not an address: {values['to']!r}.")
    eml = next((content for field, _, _, content in files if field == "eml"), None)
    if eml is not None:
        return eml, to[0][1] if to else ""
    if not values["from"].strip() or not to:
        raise MailError("From and To are needed (or an .eml file).")
    attachments = [
        AttachedFile(filename, content, kind)
        for field, filename, kind, content in files
        if field == "attachment"
    ]
    answered = values["in_reply_to"].strip()
    message = compose(
        from_email=values["from"],
        to=values["to"],
        cc=[values["cc"]] if values["cc"].strip() else [],
        subject=values["subject"],
        text=values["text"],
        html=values["html"],
        # What a mail client's reply carries: the thread it belongs to (RFC 5322, 3.6.4).
        headers=[("In-Reply-To", answered), ("References", answered)] if answered else [],
        attachments=attachments,
    )
    return message, ""
