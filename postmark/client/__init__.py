"""The HTTP client for Postmark's API: keep-alive sessions, safe retries, typed errors.

``http`` holds the transport (sessions, one attempt, the retry rule); each endpoint group is a
module of its own, and ``Client`` has them all.
"""

from __future__ import annotations

from .bounces import BounceEndpoints
from .email import EmailEndpoints
from .http import USER_AGENT, HTTPClient, Timeout, encode_json
from .message_events import MessageEventEndpoints
from .messages import MessageEndpoints
from .server import ServerEndpoints

__all__ = ["USER_AGENT", "Client", "HTTPClient", "Timeout", "encode_json"]


class Client(
    EmailEndpoints, BounceEndpoints, MessageEndpoints, MessageEventEndpoints, ServerEndpoints
):
    """Talks to one Postmark server with one token (see ``HTTPClient``), every endpoint."""
