"""Posts webhooks the way Postmark does: JSON, basic auth taken from the URL, the webhook's custom
headers (``HttpHeaders``), retried on failure.

One background thread works through a schedule, so that a send is answered at once and its
webhook arrives "shortly after", as with the real service.
"""

from __future__ import annotations

import base64
import heapq
import itertools
import json
import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from ..api.spec import DEFAULT_STREAM
from .state import Attempt, SandboxState, WebhookDelivery, now
from .webhook_config import WebhookRegistry

#: A webhook's custom headers, (name, value) pairs, as they were when its event was scheduled.
Headers = tuple[tuple[str, str], ...]

#: Each webhook that did not get its 200 is reported here (WARNING: shown even where logging is
#: not configured); ``postmark_sandbox`` prints it on stderr. The URL never carries its password.
logger = logging.getLogger("postmark.sandbox.webhooks")


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer like any other (not 200: retried), never followed: following it
    would post elsewhere, and urllib would take the Authorization header along."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirects)


def split_credentials(url: str) -> tuple[str, str | None]:
    """The URL without its ``user:password@`` part, and the Authorization header it stands for.

    urllib does not send userinfo itself; Postmark turns it into basic auth, so do we.
    """
    parts = urlsplit(url)
    if parts.username is None:
        return url, None
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    bare = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
    return bare, "Basic " + base64.b64encode(pair.encode()).decode()


def shown_url(url: str) -> str:
    """The URL without its password, fit to print and show: the user is named after it."""
    bare, authorization = split_credentials(url)
    user = urlsplit(url).username
    return f"{bare} (basic auth as {unquote(user or '')!r})" if authorization else bare


class WebhookSender:
    """Delivers each scheduled webhook after ``delay`` seconds, retrying after each of
    ``retry_delays`` while the answer is not 200. A 403 stops the retries, as with Postmark.

    A stream with webhooks set through the Webhooks API (``registry``) gets its events there,
    for the triggers they enable, with their custom headers; a stream with none gets them at
    ``url``. An event keeps the URL and headers it was scheduled with through its retries:
    whether Postmark's retries see a webhook edited meanwhile is not documented, and a site
    rotating its secret must accept either (docs/webhooks.rst gives the order). With
    ``enabled`` False nothing is posted (the site is "unreachable": the events are only on the
    page, and ``postmark_sync`` has to recover them).
    """

    def __init__(
        self,
        state: SandboxState,
        url: str | None,
        *,
        delay: float = 0.5,
        retry_delays: Sequence[float] = (1.0, 5.0, 15.0),
        timeout: float = 10.0,
        registry: WebhookRegistry | None = None,
    ) -> None:
        self.state = state
        self.url = url
        self.registry = registry or WebhookRegistry()
        self.enabled = True
        self.delay = delay
        self.retry_delays = tuple(retry_delays)
        self.timeout = timeout
        self._schedule: list[tuple[float, int, WebhookDelivery, str, Headers]] = []
        self._order = itertools.count()
        self._wakeup = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._busy = 0
        self._paused = False
        # Set in a handler thread while a faulted call's messages are accepted (``withheld``).
        self._local = threading.local()
        #: Called with (RecordType, payload) for every outbound event, posted or not: the
        #: Messages API records its MessageEvents (message_details.py).
        self.listeners: list[Callable[[str, dict[str, Any]], None]] = []

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="sandbox-webhooks", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        with self._wakeup:
            self._stopping = True
            self._wakeup.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=self.timeout + 1)

    def send(self, record_type: str, payload: dict[str, Any]) -> WebhookDelivery | None:
        """Schedule one webhook; None when it goes nowhere (the event is only shown)."""
        for listener in self.listeners:
            listener(record_type, payload)
        if getattr(self._local, "withheld", False):
            return None
        stream = str(payload.get("MessageStream") or DEFAULT_STREAM)
        target, headers = self.route(stream, record_type)
        return self.send_to(target, record_type, payload, headers)

    def send_to(
        self,
        target: str | None,
        record_type: str,
        payload: dict[str, Any],
        headers: Headers = (),
    ) -> WebhookDelivery | None:
        """Schedule one post of ``payload`` to ``target`` with ``headers`` (inbound mail goes to
        the server's inbound URL, not to a stream's webhook); None when it goes nowhere."""
        if not target or not self.enabled:
            return None
        shown_url, _ = split_credentials(target)
        delivery = self.state.new_delivery(record_type, shown_url, payload)
        self._enqueue(delivery, self.delay, target, headers)
        return delivery

    def route(self, stream: str, record_type: str) -> tuple[str | None, Headers]:
        """Where an event goes (its URL with credentials, or None) and the headers it carries."""
        webhooks = self.registry.of_stream(stream)
        if not webhooks:
            return self.url, ()
        webhook = next((w for w in webhooks if w.enabled(record_type)), None)
        if webhook is None:
            return None, ()
        return webhook.target(), tuple((h["Name"], h["Value"]) for h in webhook.headers)

    def target_for(self, stream: str, record_type: str) -> str | None:
        return self.route(stream, record_type)[0]

    @contextmanager
    def withheld(self, withhold: bool = True) -> Iterator[None]:
        """With ``withhold``, schedule no webhook from this thread until the block ends (the
        listeners still hear each event: the message's details record it): the messages a
        faulted call accepts when ``Faults.webhooks`` is off. Other threads' sends are untouched."""
        before = getattr(self._local, "withheld", False)
        self._local.withheld = before or withhold
        try:
            yield
        finally:
            self._local.withheld = before

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Hold every webhook until the block ends (then the due ones go at once): a test whose
        app shares one database connection with its server must not be called back mid-send.

        A webhook already being posted when the block begins is let finish first, so that
        nothing at all reaches the app inside the block."""
        with self._wakeup:
            self._paused = True
            while self._busy:
                self._wakeup.wait()
        try:
            yield
        finally:
            with self._wakeup:
                self._paused = False
                self._wakeup.notify_all()

    def idle(self) -> bool:
        """True when nothing is scheduled or being posted."""
        with self._wakeup:
            return not self._schedule and not self._busy

    def _enqueue(
        self, delivery: WebhookDelivery, delay: float, target: str, headers: Headers = ()
    ) -> None:
        with self._wakeup:
            due = time.monotonic() + delay
            heapq.heappush(self._schedule, (due, next(self._order), delivery, target, headers))
            self._wakeup.notify_all()

    def _run(self) -> None:
        while True:
            with self._wakeup:
                while not self._stopping and (
                    self._paused or not self._schedule or self._schedule[0][0] > time.monotonic()
                ):
                    wait = (
                        self._schedule[0][0] - time.monotonic()
                        if self._schedule and not self._paused
                        else None
                    )
                    self._wakeup.wait(timeout=wait)
                if self._stopping:
                    return
                _, _, delivery, target, headers = heapq.heappop(self._schedule)
                self._busy += 1
            try:
                self._attempt(delivery, target, headers)
            finally:
                with self._wakeup:
                    self._busy -= 1
                    self._wakeup.notify_all()  # a pause waits for the post under way

    def _attempt(self, delivery: WebhookDelivery, target: str, headers: Headers) -> None:
        url, authorization = split_credentials(target)
        request = urllib.request.Request(
            url, data=json.dumps(delivery.payload).encode(), method="POST"
        )
        for name, value in headers:  # first: the sender's own headers below win
            request.add_header(name, value)
        request.add_header("Content-Type", "application/json")
        request.add_header("User-Agent", "Postmark")
        if authorization:
            request.add_header("Authorization", authorization)
        status: int | None
        try:
            with _OPENER.open(request, timeout=self.timeout) as response:
                status, error = response.status, ""
        except urllib.error.HTTPError as exc:
            status, error = exc.code, str(exc.reason)
        except (OSError, ValueError) as exc:
            status, error = None, str(exc)
        with self.state.lock:
            delivery.attempts.append(Attempt(now(), status, error))
            retries_done = len(delivery.attempts) - 1
            if status == 200:
                delivery.state = "delivered"
            elif status == 403 or retries_done >= len(self.retry_delays):
                delivery.state = "failed"
        if status != 200:
            self._report(delivery, url, status, error, retries_done)
        if delivery.state == "pending":
            self._enqueue(delivery, self.retry_delays[retries_done], target, headers)

    def _report(
        self, delivery: WebhookDelivery, url: str, status: int | None, error: str, retries: int
    ) -> None:
        """One line per failed attempt: what, where (``url`` has no credentials), the answer,
        and what happens next; a hint where the cause is the usual one."""
        answer = f"{status} {error}".strip() if status is not None else f"no answer ({error})"
        if delivery.state == "pending":
            delay = self.retry_delays[retries]
            then = f"retry {retries + 1} of {len(self.retry_delays)} in {delay:g} s"
        elif status == 403:
            then = "not retried (403 stops the retries, as with Postmark)"
        else:
            then = f"gave up after {retries + 1} attempts"
        hint = ""
        if status == 401:
            hint = (
                " The site refused the user and password in the webhook URL: they must be its "
                "POSTMARK_API_USER and POSTMARK_API_PASSWORD."
            )
        elif status == 403:
            hint = (
                " The site refused the sender's address (POSTMARK_WEBHOOK_ALLOWED_IPS) or the "
                "webhook's secret header (POSTMARK_WEBHOOK_SECRETS: run postmark_webhooks)."
            )
        logger.warning(
            "Webhook %s #%s to %s failed: %s; %s.%s",
            delivery.record_type,
            delivery.id,
            url,
            answer,
            then,
            hint,
        )
