"""The webhook views: authentication, limits and input checks, then ``postmark.webhooks``.

Every refusal is a 4xx with a one-line reason, decided before anything is stored, except a
well-formed JSON object that is not a usable event: that is stored as "rejected" (it can be
replayed) and answered 400.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import ipaddress
import json
from collections.abc import Callable
from typing import Any

from django.contrib.auth.decorators import login_not_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from . import sql, webhooks
from .conf import settings

#: Request headers never stored with the event.
_SECRET_HEADERS = frozenset(("Authorization", "Cookie", "Proxy-Authorization"))


def _text(status: int, reason: str, **headers: str) -> HttpResponse:
    response = HttpResponse(reason + "\n", status=status, content_type="text/plain; charset=utf-8")
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def webhook_credentials() -> list[tuple[str, str]]:
    """Every accepted (user, password): API_USER/API_PASSWORD, then WEBHOOK_CREDENTIALS."""
    pairs: list[tuple[str, str]] = []
    if settings.POSTMARK_API_USER or settings.POSTMARK_API_PASSWORD:
        pairs.append((settings.POSTMARK_API_USER or "", settings.POSTMARK_API_PASSWORD or ""))
    pairs.extend(
        (str(user), str(password)) for user, password in settings.POSTMARK_WEBHOOK_CREDENTIALS
    )
    return pairs


def _authorized(request: HttpRequest) -> bool:
    credentials = webhook_credentials()
    if not credentials:
        return True  # as the original app did; system check postmark.W001 warns
    scheme, _, encoded = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        given = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    # Compare with every pair, without stopping at a match, so the time taken says nothing
    # about which pair (or how much of one) matched.
    matched = False
    for user, password in credentials:
        matched |= hmac.compare_digest(given, f"{user}:{password}".encode())
    return matched


def _read_body(request: HttpRequest, limit: int, setting: str) -> bytes | HttpResponse:
    declared = request.META.get("CONTENT_LENGTH") or "0"
    try:
        length = int(declared)
    except ValueError:
        return _text(400, "invalid Content-Length")
    too_big = f"body over the {limit}-byte limit ({setting})"
    if length > limit:
        return _text(413, too_big)
    # Read the stream rather than request.body: DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB) would
    # refuse inbound mail with attachments; this view has its own limit.
    body = request.read(limit + 1)
    if len(body) > limit:
        return _text(413, too_big)
    return body


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _headers(request: HttpRequest) -> dict[str, str]:
    return {name: value for name, value in request.headers.items() if name not in _SECRET_HEADERS}


def _remote_addr(request: HttpRequest) -> str | None:
    try:
        return str(ipaddress.ip_address(request.META.get("REMOTE_ADDR", "")))
    except ValueError:
        return None


def _receive(request: HttpRequest, *, inbound: bool) -> HttpResponse:
    if request.method == "HEAD":
        # Answered without credentials: it reveals nothing and lets uptime checks probe the URL.
        return HttpResponse(status=200)
    if not _authorized(request):
        return _text(401, "authentication required", WWW_Authenticate='Basic realm="postmark"')
    if request.method != "POST":
        return _text(405, "POST only", Allow="POST, HEAD")
    body = _read_body(request, *sql.body_limit(settings.POSTMARK_WEBHOOK_MAX_BYTES))
    if isinstance(body, HttpResponse):
        return body
    if request.content_type != "application/json":
        return _text(415, "Content-Type must be application/json")
    try:
        text = body.decode("utf-8")
        payload = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        return _text(400, f"invalid JSON: {str(exc)[:200]}")
    if not isinstance(payload, dict):
        return _text(400, f"expected a JSON object, got {type(payload).__name__}")
    outcome = webhooks.receive(
        text, payload, inbound=inbound, headers=_headers(request), remote_addr=_remote_addr(request)
    )
    return _text(outcome.http_status, outcome.reason)


def _webhook_view(inbound: bool) -> Callable[[HttpRequest], HttpResponse]:
    # non_atomic_requests: under ATOMIC_REQUESTS the request transaction would roll back the row
    # that records a failure; these views manage their own transactions (postmark.webhooks).
    @csrf_exempt
    @login_not_required
    @transaction.non_atomic_requests
    def view(request: HttpRequest) -> HttpResponse:
        return _receive(request, inbound=inbound)

    return view


#: Every outbound event kind (Bounce, Delivery, Open, Click, SpamComplaint, SubscriptionChange),
#: routed on RecordType. Served at /bounce/ (the original app's path) and /events/.
outbound_hook = _webhook_view(inbound=False)
outbound_hook.__name__ = outbound_hook.__qualname__ = "outbound_hook"
#: Inbound mail (Postmark sends it without a RecordType).
inbound_hook = _webhook_view(inbound=True)
inbound_hook.__name__ = inbound_hook.__qualname__ = "inbound_hook"
