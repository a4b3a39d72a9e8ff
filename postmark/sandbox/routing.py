"""The sandbox's request routing: a request in, an ``Answer`` out, token checked on the way.

Transport-free (bytes in, ``Answer`` out) so that server.py stays about HTTP. Each area of
Postmark's API (sending_api, bounces_api, bulk, webhooks_api) gives its ``routes()``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any

from ..api.spec import MAX_SEARCH_COUNT, TEST_TOKEN
from .state import SandboxState
from .validation import Refusal

MISSING_TOKEN = "Request does not contain a valid Server token."
WRONG_TOKEN = (
    "The Server Token you provided in the X-Postmark-Server-Token request header was invalid. "
    "Please verify that you are using a valid token."
)
#: Endpoints of Postmark's account API, which take an account token instead of a server token.
ACCOUNT_PATHS = ("/data-removals",)
MISSING_ACCOUNT_TOKEN = "Request does not contain a valid Account token."


@dataclass
class Answer:
    status: int
    body: Any  # JSON-encoded, unless it is already text (an HTML page, a plain-text refusal)
    content_type: str = "application/json"
    headers: Mapping[str, str] = field(default_factory=dict)

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


Route = tuple[str, re.Pattern[str], Callable[..., Answer]]


def known_stream(state: SandboxState, stream: str) -> str:
    """The stream, if the sandbox's server has it; else Postmark's refusal."""
    if stream not in state.streams:
        raise Refusal(1235, f"The message stream '{stream}' was not found on this server.")
    return stream


def paging(query: Mapping[str, str], window: int | None = None) -> tuple[int, int]:
    """A list endpoint's ``count`` (1 to 500) and ``offset`` (required, both); with ``window``,
    ``count + offset`` at most that (the Messages API's 10,000)."""
    try:
        count, offset = int(query["count"]), int(query["offset"])
    except (KeyError, ValueError):
        raise Refusal(403, "The 'count' and 'offset' parameters are required numbers.") from None
    if not 1 <= count <= MAX_SEARCH_COUNT or offset < 0:
        raise Refusal(403, f"'count' must be from 1 to {MAX_SEARCH_COUNT} and 'offset' at least 0.")
    if window is not None and count + offset > window:
        raise Refusal(403, f"'count' and 'offset' together may not exceed {window}.")
    return count, offset


def query_date(name: str, value: str, zone: tzinfo, *, end_of_day: bool = False) -> datetime:
    """A list endpoint's ``fromdate``/``todate``: a date or date and time, read in ``zone`` when
    it has no offset; a bare date as an end means the whole of that day."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise Refusal(403, f"'{name}' must be a date such as 2026-11-27T10:00:00.") from None
    if end_of_day and len(value) == 10:
        moment = moment.replace(hour=23, minute=59, second=59, microsecond=999999)
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)


class PostmarkAPI:
    """Every route of the sandbox's API, and the token checks they share."""

    def __init__(self, token: str | None) -> None:
        #: The one server token accepted (besides the test token); None accepts any token.
        self.token = token
        #: The one account token the account API (data removals) accepts; None accepts any.
        self.account_token: str | None = None
        self.routes: list[Route] = []

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
