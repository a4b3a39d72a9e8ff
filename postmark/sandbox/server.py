"""The sandbox's HTTP side: a threaded standard-library server on loopback, and ``Sandbox``, the
object tests and the management command start, inspect and stop."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import Counter
from collections.abc import Sequence
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from ..api.spec import MAX_BATCH_BYTES, MAX_MESSAGE_BYTES
from .bounces_api import BouncesAPI
from .bulk import BulkAPI
from .faults import ACCEPTING, Faults
from .inbound_api import READ_LIMIT as INBOUND_READ_LIMIT
from .inbound_api import InboundAPI, is_inbound_path
from .message_details import MessageDetailsAPI
from .messages_api import MessagesAPI
from .page import render, state_json
from .routing import Answer, PostmarkAPI, Request
from .sending_api import SendingAPI
from .state import Bounce, SandboxState, SentMessage, Suppression, WebhookDelivery
from .validation import Refusal
from .webhook_sender import WebhookSender, shown_url
from .webhooks_api import OperationsAPI

# Bodies past this are not even read into memory; Postmark's own limit is 50 MB per batch.
_READ_LIMIT = MAX_BATCH_BYTES + 1024 * 1024
#: The names a request may call the sandbox by, besides those it is given (with its port).
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")


def host_headers(names: Sequence[str], port: int) -> frozenset[str]:
    """Every ``Host`` header that names one of ``names`` on ``port``, lowercased. A name given
    with a port (``proxy:9000``) stands as it is; without one it takes the sandbox's port."""
    allowed = set()
    for given in names:
        name = given.strip().lower()
        if (name.startswith("[") and "]:" in name) or name.count(":") == 1:
            allowed.add(name)
            continue
        if ":" in name and not name.startswith("["):
            name = f"[{name}]"  # a bare IPv6 address
        allowed.add(f"{name}:{port}")
        if port == 80:  # the default port may be left out
            allowed.add(name)
    return frozenset(allowed)


class Sandbox:
    """A stand-in for Postmark's API on ``host:port`` (port 0 picks a free one).

    ``token`` None accepts any server token; ``webhook_url`` (``http://user:pass@host/path``)
    receives every Bounce, SpamComplaint and Delivery webhook ``webhook_delay`` seconds after
    the send, retried after each of ``retry_delays`` seconds until it answers 200;
    ``inbound_url`` receives the inbound mail delivered to it (``deliver_inbound()``, the
    form of ``/sandbox/inbound``), with ``RawEmail`` unless ``raw_email`` is False.

    ``faults`` plays the calls whose outcome a client cannot know (``faults.plan([...])``, see
    ``postmark.sandbox.faults``), and ``index_delay`` the seconds before a message accepted shows
    in the Messages API's search.

    Requests must call it by a loopback name (``localhost``, ``127.0.0.1``, ``[::1]``) or the
    address it listens on, with its port, or by one of ``allowed_hosts``: any other ``Host`` is
    answered 421, so that a web page cannot read it by rebinding its own name to 127.0.0.1.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        token: str | None = None,
        webhook_url: str | None = None,
        webhook_delay: float = 0.5,
        retry_delays: Sequence[float] = (1.0, 5.0, 15.0),
        allowed_hosts: Sequence[str] = (),
        index_delay: float = 0.0,
        inbound_url: str | None = None,
        raw_email: bool = True,
    ) -> None:
        self.state = SandboxState()
        self.faults = Faults(index_delay=index_delay)
        self.webhooks = WebhookSender(
            self.state, webhook_url, delay=webhook_delay, retry_delays=retry_delays
        )
        self.api = PostmarkAPI(token)
        self.sending = SendingAPI(self.state, self.webhooks)
        # The Bulk API (bulk.py); ``sandbox.bulk.enabled = False`` refuses it as Postmark does
        # for an account without it.
        self.bulk = BulkAPI(self.sending)
        # Webhooks API, message streams, data removals (postmark_webhooks, postmark_forget).
        self.operations = OperationsAPI(self.state, self.webhooks.registry)
        # The server's inbound settings (GET/PUT /server) and inbound mail (inbound_api.py).
        self.inbound = InboundAPI(self.state, self.webhooks, url=inbound_url, raw_email=raw_email)
        areas = (self.sending, BouncesAPI(self.state), self.bulk, self.operations, self.inbound)
        for area in (*areas, MessagesAPI(self.state, self.faults)):
            self.api.routes += area.routes()
        # Message details with their events, opens, clicks, failed inbound mail; a recipient
        # opening, clicking, unsubscribing (message_details.py).
        self.events = MessageDetailsAPI(self.state, self.webhooks, self.inbound)
        self.api.routes += self.events.routes()
        self.httpd = _Server((host, port), _Handler)
        self.httpd.sandbox = self
        self.host = host
        # The address it listens on, as its own URL names it (0.0.0.0 too: a page cannot
        # rebind an address, only a name, and a client given sandbox.url must be answered).
        own = (host,) if host else ()
        self.allowed_hosts = host_headers(
            [*LOOPBACK_NAMES, *own, *allowed_hosts], self.httpd.server_port
        )
        #: Where a post of the page's form may come from: the sandbox itself, by any name.
        self.origins = frozenset(f"http://{name}" for name in self.allowed_hosts)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = self.host if ":" not in self.host else f"[{self.host}]"
        return f"http://{host}:{self.httpd.server_port}"

    def start(self) -> Sandbox:
        """Serve from a background thread (tests); ``serve_forever()`` blocks instead."""
        self.webhooks.start()
        # A short poll interval makes stop() quick, which a test suite starting many notices.
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self.webhooks.start()
        try:
            self.httpd.serve_forever()
        finally:
            self.webhooks.stop()
            self.httpd.server_close()

    def stop(self) -> None:
        self.faults.released.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.webhooks.stop()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def webhook_target(self) -> str | None:
        """The webhook URL without its password, fit to print and show."""
        return shown_url(self.webhooks.url) if self.webhooks.url else None

    def deliver_inbound(self, source: bytes | Message, *, recipient: str = "") -> WebhookDelivery:
        """Deliver inbound mail (its MIME source, or a message) to ``inbound_url`` as Postmark
        would, shortly after; ``recipient`` is the address it came to (by default its first
        To). A ``postmark.sandbox.inbound_payload.MailError`` says why it cannot be."""
        return self.inbound.deliver(source, recipient=recipient)

    # --- Inspection (tests) ------------------------------------------------------------------

    @property
    def messages(self) -> list[SentMessage]:
        return self.state.snapshot()["messages"]

    @property
    def bounces(self) -> list[Bounce]:
        return self.state.snapshot()["bounces"]

    @property
    def suppressions(self) -> list[Suppression]:
        return self.state.snapshot()["suppressions"]

    @property
    def webhook_deliveries(self) -> list[WebhookDelivery]:
        return self.state.snapshot()["webhook_deliveries"]

    def copies(self, metadata_key: str) -> Counter[str]:
        """How many messages it accepted for each value of a Metadata field: with the app's
        POSTMARK_LINK_FIELD, how many copies of each message (test-token sends left out)."""
        return Counter(
            message.metadata[metadata_key]
            for message in self.messages
            if not message.test and metadata_key in message.metadata
        )

    def wait_for_webhooks(self, timeout: float = 10.0) -> list[WebhookDelivery]:
        """Wait until every scheduled webhook was delivered or gave up; return them all."""
        deadline = time.monotonic() + timeout
        while not self.webhooks.idle():
            if time.monotonic() > deadline:
                raise TimeoutError(f"Webhooks still pending after {timeout} s.")
            time.sleep(0.02)
        return self.webhook_deliveries

    def state_json(self) -> dict[str, Any]:
        """What the page shows, as JSON (``GET /sandbox/state.json``)."""
        return state_json(self.state.snapshot(), self.state.server_id)


_FOREIGN_HOST = (
    "Misdirected request: this sandbox answers only to localhost, 127.0.0.1 or [::1] with its "
    "port (postmark_sandbox --allowed-host adds names)."
)

_PAGE_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    sandbox: Sandbox


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the API client's session expects
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the page shows every request that mattered

    def setup(self) -> None:
        super().setup()
        # An answer goes out in two writes (headers, body): without this, Nagle's algorithm
        # holds the body until the client's delayed ACK, some 40 ms per answer.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _handle(self) -> None:
        sandbox = self.server.sandbox
        parts = urlsplit(self.path)
        try:
            length = self._content_length()
            if not self._called_by_its_name():
                self.close_connection = True  # its body, if any, stays unread
                self._reply(Answer(421, {"Message": _FOREIGN_HOST}))
                return
            body = self._read_body(parts.path, length)
        except Refusal as refusal:
            self._reply(Answer.refusal(refusal))
            return
        if parts.path in ("", "/") and self.command == "GET":
            page = render(
                sandbox.state.snapshot(),
                api_url=sandbox.url,
                webhook_url=sandbox.webhook_target,
                inbound_url=sandbox.inbound.target,
            )
            self._reply(Answer(200, page, "text/html; charset=utf-8"))
            return
        if parts.path == "/sandbox/state.json" and self.command == "GET":
            self._reply(Answer(200, sandbox.state_json()))
            return
        if parts.path == "/sandbox/webhooks" and self.command == "PUT":
            # {"Enabled": false} makes the site "unreachable" (the demo's missed bounce).
            sandbox.webhooks.enabled = bool(json.loads(body or b"{}").get("Enabled", True))
            self._reply(Answer(200, {"Enabled": sandbox.webhooks.enabled}))
            return
        if parts.path == "/sandbox/faults" and self.command in ("GET", "PUT"):
            self._reply(sandbox.faults.control(self.command, body))
            return
        fault = sandbox.faults.take(self.command, parts.path)
        if fault is not None and fault not in ACCEPTING:
            self._reply_for(fault, None)  # not processed: nothing was accepted
            return
        request = Request(
            method=self.command,
            path=parts.path,
            query=dict(parse_qsl(parts.query)),
            headers={name.lower(): value for name, value in self.headers.items()},
            body=body,
        )
        if is_inbound_path(parts.path):
            self._reply(sandbox.inbound.handle(request, sandbox.origins))
            return
        with sandbox.webhooks.withheld(sandbox.faults.withholds_webhooks(fault)):
            self._reply_for(fault, sandbox.api.handle(request))

    do_GET = do_POST = do_PUT = do_DELETE = _handle

    def _reply_for(self, fault: str | None, answer: Answer | None) -> None:
        if fault is not None:
            answer = self.server.sandbox.faults.answer_for(fault, answer)
        if answer is None:
            self.close_connection = True  # closed unanswered, as a connection cut mid-call
        else:
            self._reply(answer)

    def _called_by_its_name(self) -> bool:
        hosts = self.headers.get_all("Host") or []
        return len(hosts) == 1 and hosts[0].strip().lower() in self.server.sandbox.allowed_hosts

    def _content_length(self) -> int:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0:
            self.close_connection = True  # where this body ends is unknowable
            raise Refusal(402, "Received invalid JSON input: bad Content-Length.", http_status=400)
        return length

    def _read_body(self, path: str, length: int) -> bytes:
        limit = MAX_MESSAGE_BYTES
        if path.rstrip("/").endswith(("batch", "Templates", "bulk")):
            limit = MAX_BATCH_BYTES
        elif is_inbound_path(path):
            limit = INBOUND_READ_LIMIT
        if length <= limit:
            return self.rfile.read(length) if length else b""
        # Drain what was sent (up to a bound) so the client reads the 413 instead of a reset.
        remaining = min(length, _READ_LIMIT)
        while remaining > 0:
            chunk = self.rfile.read(min(remaining, 1024 * 1024))
            if not chunk:
                break
            remaining -= len(chunk)
        if length > _READ_LIMIT:
            self.close_connection = True
        megabytes = limit // (1024 * 1024)
        raise Refusal(300, f"The request exceeds the {megabytes} MB limit.", http_status=413)

    def _reply(self, answer: Answer) -> None:
        json_body = answer.content_type == "application/json"
        text = json.dumps(answer.body) if json_body else str(answer.body)
        data = text.encode("utf-8")
        try:
            self.send_response(answer.status)
            self.send_header("Content-Type", answer.content_type)
            self.send_header("Content-Length", str(len(data)))
            if answer.content_type.startswith("text/html"):
                # Its own styles only, no script, framed by no one (its form is the target).
                self.send_header("Content-Security-Policy", _PAGE_POLICY)
                self.send_header("X-Frame-Options", "DENY")
            self.send_header("X-Content-Type-Options", "nosniff")
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (a slow answer, say)
