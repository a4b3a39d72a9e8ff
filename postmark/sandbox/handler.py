"""The sandbox's request handler: one HTTP request read (bounded), checked for the sandbox's own
name, and answered by the sandbox's control endpoints, a planned fault, inbound mail or the API."""

from __future__ import annotations

import json
import socket
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from ..api.spec import MAX_BATCH_BYTES, MAX_MESSAGE_BYTES
from .faults import ACCEPTING
from .inbound_api import READ_LIMIT as INBOUND_READ_LIMIT
from .inbound_api import is_inbound_path
from .page import render
from .routing import Answer, Request
from .validation import Refusal

if TYPE_CHECKING:
    from .server import Sandbox

# Bodies past this are not even read into memory; Postmark's own limit is 50 MB per batch.
_READ_LIMIT = MAX_BATCH_BYTES + 1024 * 1024

_FOREIGN_HOST = (
    "Misdirected request: this sandbox answers only to localhost, 127.0.0.1 or [::1] with its "
    "port (postmark_sandbox --allowed-host adds names)."
)


_PAGE_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)


class SandboxServer(ThreadingHTTPServer):
    daemon_threads = True
    sandbox: Sandbox


class SandboxHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the API client's session expects
    server: SandboxServer

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
