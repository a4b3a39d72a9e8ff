"""The HTTP part of the API client: token, keep-alive sessions, one attempt, safe retries.

Every attempt has a deadline for the whole call (``postmark.client.deadline``), and redirects are
never followed: a 3xx is an unexpected answer (the batch may have been taken), and following it
would post the batch again and hand the server token to whatever origin it names.

A ``requests.Session`` is not safe to share between threads, and ``postmark.sending`` makes
several calls at once: each call leases a session of its own from the client's pool and gives
it back afterwards, so every session (and its keep-alive connection) serves one call at a time,
and one caller making calls one after another always reuses the same one.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from time import sleep
from typing import Any, Self

import requests
from django.core.exceptions import ImproperlyConfigured
from django.core.serializers.json import DjangoJSONEncoder
from urllib3.exceptions import NameResolutionError, NewConnectionError

import postmark

from .. import exceptions
from ..conf import checked_api_url, conceal, settings
from ..facts import TEST_TOKEN
from . import deadline

USER_AGENT = f"django-postmark/{postmark.__version__}"

Timeout = float | tuple[float, float]


class HTTPClient:
    """Talks to one Postmark server with one token; the endpoints are in the subclasses.

    The sessions (and so their keep-alive connections) live until ``close()``.
    """

    def __init__(
        self,
        token: str | None,
        *,
        base_url: str = "https://api.postmarkapp.com",
        timeout: Timeout = (5.0, 30.0),
        max_retries: int = 3,
        retry_backoff: float = 0.5,
    ) -> None:
        if not token:
            raise ImproperlyConfigured(
                "Set POSTMARK_API_KEY to your Postmark server token "
                "(or POSTMARK_TEST_MODE = True to send with the test token)."
            )
        # A Secret: shown as stars wherever a report prints the client's headers.
        self.token = conceal(token)
        self.base_url = base_url.rstrip("/")
        # requests takes a number or a (connect, read) tuple, not a list from a settings file.
        # (Typed as Timeout, but a settings file may well give a list.)
        if isinstance(timeout, tuple | list):
            connect, read = timeout
            self.timeout: Timeout = (connect, read)
        else:
            connect = read = timeout
            self.timeout = timeout
        #: Seconds one attempt may take in all: connecting, writing, and the whole answer.
        self.deadline = float(connect) + float(read)
        self.max_retries = max_retries
        self.retry_backoff = retry_backoff
        #: Sent with every request, by every session of the pool.
        self.headers = {
            "Accept": "application/json",
            "Content-Type": "application/json",
            "X-Postmark-Server-Token": self.token,
            "User-Agent": USER_AGENT,
        }
        self._idle: list[requests.Session] = []
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, **overrides: Any) -> Self:
        """A client configured from the POSTMARK_* settings; keyword arguments win."""
        token = overrides.pop("token", None)
        test_mode = overrides.pop("test_mode", None)
        if test_mode is None:
            test_mode = settings.POSTMARK_TEST_MODE
        # Test mode wins over any key, so that switching it on can never deliver real mail.
        if test_mode:
            token = TEST_TOKEN
        elif token is None:
            token = settings.POSTMARK_API_KEY
        options: dict[str, Any] = {
            "base_url": settings.POSTMARK_API_URL,
            "timeout": settings.POSTMARK_TIMEOUT,
            "max_retries": settings.POSTMARK_MAX_RETRIES,
            "retry_backoff": settings.POSTMARK_RETRY_BACKOFF,
        }
        options.update({k: v for k, v in overrides.items() if v is not None})
        # Checked here as well as at start-up (postmark.conf): the backend's api_url argument
        # and override_settings come this way.
        options["base_url"] = checked_api_url(options["base_url"])
        return cls(token, **options)

    @classmethod
    def for_account(cls, account_token: str | None, **options: Any) -> Self:
        """A client that authenticates with an account token (``X-Postmark-Account-Token``),
        which the data-removal API requires instead of a server token."""
        if not account_token:
            raise ImproperlyConfigured(
                "Set POSTMARK_ACCOUNT_TOKEN to your Postmark account token (Account > API "
                "tokens) to ask Postmark to remove an address's data."
            )
        client = cls(account_token, **options)
        del client.headers["X-Postmark-Server-Token"]
        client.headers["X-Postmark-Account-Token"] = client.token
        return client

    def for_server(self, token: str) -> Self:
        """A client like this one (URL, timeout, retries, subclass) for another server's token,
        with sessions of its own; a client with the test token keeps it (test mode)."""
        other = copy.copy(self)
        other.token = self.token if self.token == TEST_TOKEN else conceal(token)
        other.headers = {**self.headers, "X-Postmark-Server-Token": other.token}
        other._idle, other._lock = [], threading.Lock()
        return other

    # --- Sessions ----------------------------------------------------------------------------

    @property
    def session(self) -> requests.Session:
        """The session the next call made alone will use (created if there is none)."""
        with self._lock:
            if not self._idle:
                self._idle.append(self._new_session())
            return self._idle[-1]

    def _new_session(self) -> requests.Session:
        session = deadline.session()
        session.headers.update(self.headers)
        return session

    @contextmanager
    def _leased(self) -> Iterator[requests.Session]:
        """A session for one call, which no other thread uses until it is given back. One whose
        connection failed (a deadline cut it, say) is dropped rather than reused; one that got
        an answer, even an error, is kept."""
        with self._lock:
            session = self._idle.pop() if self._idle else self._new_session()
        try:
            yield session
        except exceptions.PostmarkAPIError:
            self._give_back(session)
            raise
        except BaseException:
            session.close()
            raise
        self._give_back(session)

    def _give_back(self, session: requests.Session) -> None:
        with self._lock:
            self._idle.append(session)

    def close(self) -> None:
        """Close the pooled sessions; the next call opens a new one."""
        with self._lock:
            idle, self._idle = self._idle, []
        for session in idle:
            session.close()

    # --- Requests ----------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        data: bytes | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> Any:
        """Send one request and return the decoded JSON answer, retrying only when safe."""
        if data is None and json_body is not None:
            data = encode_json(json_body)
        url = self.base_url + path
        attempt = 0
        while True:
            try:
                with self._leased() as session:
                    return self._attempt(session, method, url, data, params)
            except exceptions.PostmarkError as error:
                if attempt >= self.max_retries or not exceptions.is_safe_to_retry(error):
                    raise
            sleep(self.retry_backoff * (2**attempt))
            attempt += 1

    def _attempt(
        self,
        session: requests.Session,
        method: str,
        url: str,
        data: bytes | None,
        params: Mapping[str, Any] | None,
    ) -> Any:
        """The decoded answer of one attempt; raises the PostmarkError it ended with.

        Raised ``from None``: the transport error's traceback runs through http.client, whose
        frames hold the request's bytes, token included, and Django's error reports (the debug
        page, Sentry-like tools) show every frame of a chained exception. Its text is kept.
        """
        with deadline.within(self.deadline) as limit:
            try:
                response = session.request(
                    method,
                    url,
                    data=data,
                    params=params,
                    timeout=self.timeout,
                    allow_redirects=False,
                )
            except requests.exceptions.ConnectTimeout as exc:
                raise exceptions.PostmarkTimeout(
                    f"Could not connect to {self.base_url} in time: {exc}", may_have_been_sent=False
                ) from None
            except requests.exceptions.ConnectionError as exc:
                if _never_connected(exc):
                    raise exceptions.NetworkError(
                        f"Could not connect to {self.base_url}: {exc}", may_have_been_sent=False
                    ) from None
                if limit.expired:
                    raise self._late() from None
                raise exceptions.NetworkError(
                    f"Connection to {self.base_url} failed during the request: {exc}",
                    may_have_been_sent=True,
                ) from None
            except requests.exceptions.Timeout as exc:
                # The request was written; Postmark may be processing it. Never retried.
                raise exceptions.PostmarkTimeout(
                    f"No answer from {self.base_url} in time: {exc}", may_have_been_sent=True
                ) from None
            except requests.exceptions.RequestException as exc:
                if limit.expired:
                    raise self._late() from None
                # A broken answer (bad chunking, bad encoding...): the request may have been taken.
                raise exceptions.NetworkError(
                    f"Unreadable answer from {self.base_url}: {exc}", may_have_been_sent=True
                ) from None
        if limit.expired:
            # What was read before the socket was shut may look whole (headers cut at a line
            # end read as complete, an empty body): it cannot be trusted. Raising drops the
            # session, and its connection with it.
            raise self._late()
        if 200 <= response.status_code < 300:
            return _decode(response)
        if response.status_code < 400:
            raise exceptions.UnexpectedAnswerError(
                f"Postmark answered HTTP {response.status_code} (a redirect, not followed); "
                "whether the request was processed is unknown.",
                http_status=response.status_code,
            )
        raise _error_from(response)

    def _late(self) -> exceptions.PostmarkTimeout:
        return exceptions.PostmarkTimeout(
            f"No full answer from {self.base_url} within {self.deadline:g} s "
            "(POSTMARK_TIMEOUT, connect + read).",
            may_have_been_sent=True,
        )


# One encoder for every request: json.dumps(cls=...) would build a new one per call, which
# costs more than encoding a small message object. No spaces after separators: a 500-message
# batch is about 3% smaller and 10% quicker to encode. No NaN or Infinity: they are not JSON,
# and Postmark would refuse the whole request for one of them.
_ENCODER = DjangoJSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def encode_json(body: Any) -> bytes:
    """UTF-8 JSON; DjangoJSONEncoder so that template models may hold dates, decimals, UUIDs.

    Raises TypeError for a value JSON cannot carry and ValueError for NaN, an infinity or a
    circular reference.
    """
    return _ENCODER.encode(body).encode("utf-8")


def query(filters: Mapping[str, Any]) -> dict[str, Any]:
    """Query parameters from keyword filters, leaving out those not given (None)."""
    return {key: value for key, value in filters.items() if value is not None}


def _never_connected(exc: requests.exceptions.ConnectionError) -> bool:
    """True when the connection was never opened (refused, DNS failure), so nothing was sent."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [exc]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, NewConnectionError | NameResolutionError | ConnectionRefusedError):
            return True
        pending.extend([current.__cause__, current.__context__, getattr(current, "reason", None)])
        pending.extend(arg for arg in current.args if isinstance(arg, BaseException))
    return False


def _decode(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError as exc:
        raise exceptions.UnexpectedAnswerError(
            f"Postmark answered HTTP {response.status_code} with a body that is not JSON: "
            f"{response.text[:200]!r}",
            http_status=response.status_code,
        ) from exc


def _error_from(response: requests.Response) -> exceptions.PostmarkAPIError:
    error_code: int | None = None
    text = response.text[:500] or response.reason or "no message"
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        error_code = exceptions.read_error_code(body.get("ErrorCode"))
        text = str(body.get("Message") or text)
    return exceptions.api_error(response.status_code, error_code, text)
