"""The webhook views, HTTP only: the sender's address, authentication, the body, its limits;
then ``processing``.

Every refusal is a 4xx with a one-line reason, decided before anything is stored, except a
JSON object that is not a usable event: that is stored as "rejected" (it can be replayed once a
later version reads it) and answered 400.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import IO

from django.contrib.auth.decorators import login_not_required
from django.core.handlers.wsgi import WSGIRequest
from django.db import OperationalError, ProgrammingError, transaction
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from .. import events
from ..conf import settings
from ..installation.package import NOT_MIGRATED, is_missing_table
from ..storage import statements
from . import processing, sources
from .auth import DEFAULT_SECRET_HEADER, authorized, carries_secret, secret_header

logger = logging.getLogger("postmark.webhooks")

#: Request headers never stored with the event (lowercase), besides the secret header.
_SECRET_HEADERS = frozenset(("authorization", "cookie", "proxy-authorization"))


def _answer(status: int, reason: str, **headers: str) -> HttpResponse:
    response = HttpResponse(reason + "\n", status=status, content_type="text/plain; charset=utf-8")
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def _unframed_stream(request: HttpRequest) -> IO[bytes] | None:
    """Where a body without Content-Length (chunked) can be read, if the server can give it.

    Django reads such a WSGI body as empty. Servers that decode chunked requests (gunicorn,
    mod_wsgi, uWSGI, Werkzeug) say so with ``wsgi.input_terminated``: their input then ends
    where the body ends. ASGI servers hand Django the whole body, so ``request`` reads it."""
    if not isinstance(request, WSGIRequest):
        return request  # type: ignore[return-value]
    if request.environ.get("wsgi.input_terminated"):
        stream: IO[bytes] = request.environ["wsgi.input"]
        return stream
    return None


def _body_limit(inbound: bool) -> tuple[int, str]:
    """The largest body accepted, and the setting (or database limit) that sets it."""
    limit, setting = statements.body_limit(settings.POSTMARK_WEBHOOK_MAX_BYTES)
    outbound = settings.POSTMARK_WEBHOOK_OUTBOUND_MAX_BYTES
    if not inbound and outbound < limit:
        return outbound, "POSTMARK_WEBHOOK_OUTBOUND_MAX_BYTES"
    return limit, setting


def _read_body(request: HttpRequest, limit: int, setting: str) -> bytes | HttpResponse:
    """The body, read to at most ``limit`` bytes (``setting`` is what the 413 names)."""
    too_big = f"body over the {limit}-byte limit ({setting})"
    declared = request.META.get("CONTENT_LENGTH") or ""
    if declared:
        if not declared.isascii() or not declared.isdigit():
            return _answer(400, "invalid Content-Length")
        length = int(declared)
        if length > limit:
            return _answer(413, too_big)
        # Read the stream rather than request.body: DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB) would
        # refuse inbound mail with attachments; this view has its own limit.
        body = request.read(length)
        if len(body) < length:
            return _answer(400, "body shorter than its Content-Length")
        return body
    stream = _unframed_stream(request)
    if stream is None:
        if "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower():
            return _answer(411, "Content-Length required: this server does not decode chunked")
        return b""
    body = stream.read(limit + 1)
    return _answer(413, too_big) if len(body) > limit else body


def _headers(request: HttpRequest) -> dict[str, str]:
    hidden = _SECRET_HEADERS | {secret_header().lower(), DEFAULT_SECRET_HEADER.lower()}
    return {name: value for name, value in request.headers.items() if name.lower() not in hidden}


def _receive(request: HttpRequest, *, inbound: bool) -> HttpResponse:
    if request.method == "HEAD":
        # Answered without credentials: it reveals nothing and lets uptime checks probe the URL.
        return HttpResponse(status=200)
    address = sources.client_address(request)
    if not sources.permitted(address):
        # The address (never a header's text) says which one to add when Postmark adds one.
        logger.warning(
            "Webhook refused: %s is not in POSTMARK_WEBHOOK_ALLOWED_IPS.",
            address or "an address that could not be read",
        )
        return _answer(403, "forbidden: webhooks are not accepted from this address")
    if not authorized(request):
        return _answer(401, "authentication required", WWW_Authenticate='Basic realm="postmark"')
    # Inbound mail's hook cannot carry custom headers (a server setting in Postmark, not a
    # webhook of the Webhooks API): only outbound events are asked for the secret.
    if not inbound and not carries_secret(request):
        return _answer(403, "forbidden: the webhook secret header is missing or wrong")
    if request.method != "POST":
        return _answer(405, "POST only", Allow="POST, HEAD")
    body = _read_body(request, *_body_limit(inbound))
    if isinstance(body, HttpResponse):
        return body
    if request.content_type != "application/json":
        return _answer(415, "Content-Type must be application/json")
    try:
        text = body.decode("utf-8")
        size = len(body)
        del body  # the text is kept; holding both would cost one more body per request
        payload = events.load(text, size, inbound=inbound)
    except UnicodeDecodeError:
        return _answer(400, "invalid JSON: not UTF-8")
    except events.TooLarge as exc:
        return _answer(413, str(exc))
    except events.InvalidPayload as exc:
        return _answer(400, str(exc))
    try:
        outcome = processing.receive(
            text,
            payload,
            inbound=inbound,
            headers=_headers(request),
            remote_addr=str(address) if address is not None else None,
        )
    except (OperationalError, ProgrammingError) as exc:
        if not is_missing_table(exc):
            raise
        # Nothing could be stored: Postmark retries anything but 200, so a 503 keeps the event
        # coming until migrate has run (a 500 would show the SQL in DEBUG's page).
        logger.error(NOT_MIGRATED)
        return _answer(503, "not ready: the site's database is not migrated", Retry_After="60")
    return _answer(outcome.http_status, outcome.reason)


def _webhook_view(inbound: bool, name: str) -> Callable[[HttpRequest], HttpResponse]:
    # non_atomic_requests: under ATOMIC_REQUESTS the request transaction would roll back the row
    # that records a failure; these views manage their own transactions (processing.py).
    @csrf_exempt
    @login_not_required
    @transaction.non_atomic_requests
    def view(request: HttpRequest) -> HttpResponse:
        return _receive(request, inbound=inbound)

    view.__name__ = view.__qualname__ = name
    return view


#: Every outbound event kind (Bounce, Delivery, Open, Click, SpamComplaint, SubscriptionChange),
#: routed on RecordType. Served at /bounce/ (the original app's path) and /events/.
outbound_hook = _webhook_view(inbound=False, name="outbound_hook")
#: Inbound mail (Postmark sends it without a RecordType).
inbound_hook = _webhook_view(inbound=True, name="inbound_hook")
