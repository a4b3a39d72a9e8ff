"""The sandbox's HTTP side: a threaded standard-library server on loopback, and ``Sandbox``, the
object tests and the management command start, inspect and stop."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Sequence
from email.message import Message
from typing import Any

from .bounces_api import BouncesAPI
from .bulk import BulkAPI
from .faults import Faults
from .handler import SandboxHandler, SandboxServer
from .inbound_api import InboundAPI
from .message_details import MessageDetailsAPI
from .messages_api import MessagesAPI
from .page import state_json
from .routing import PostmarkAPI
from .sending_api import SendingAPI
from .state import Bounce, SandboxState, SentMessage, Suppression, WebhookDelivery
from .webhook_sender import WebhookSender, shown_url
from .webhooks_api import OperationsAPI

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
        self.httpd = SandboxServer((host, port), SandboxHandler)
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
