"""Who may post webhooks: HTTP basic auth against the configured credentials, and for outbound
events the secret header (POSTMARK_WEBHOOK_HEADER, POSTMARK_WEBHOOK_SECRETS). Where they may post
from is ``sources``."""

from __future__ import annotations

import base64
import binascii
import hmac

from django.http import HttpRequest

from ..conf import settings

#: Each half of the basic-auth pair by its two names: the one README teaches first, then the
#: original app's, which keeps working (``postmark.conf`` refuses the two set differently).
USER_SETTINGS = ("POSTMARK_WEBHOOK_USER", "POSTMARK_API_USER")
PASSWORD_SETTINGS = ("POSTMARK_WEBHOOK_PASSWORD", "POSTMARK_API_PASSWORD")


def _given(names: tuple[str, str]) -> tuple[str, str]:
    """(the name the project set, its value), or (README's name, "") when neither is set.

    Read when asked, not only as ``postmark.conf`` resolved the names at start-up, so that
    ``override_settings`` of either name is what the views and the checks see."""
    for name in names:
        value = getattr(settings, name, None)
        if value:
            return name, str(value)
    return names[0], ""


def basic_auth() -> tuple[str, str]:
    """The (user, password) of POSTMARK_WEBHOOK_USER/_PASSWORD (or their original names), each
    "" where unset."""
    return _given(USER_SETTINGS)[1], _given(PASSWORD_SETTINGS)[1]


def missing_settings() -> list[str]:
    """The settings still to set for the webhook views to require credentials: none when the
    pair is complete (or absent while POSTMARK_WEBHOOK_CREDENTIALS lists pairs), else each
    missing half, spelled as the project spells the half it did set (README's names when
    neither is set)."""
    (user_name, user), (password_name, password) = _given(USER_SETTINGS), _given(PASSWORD_SETTINGS)
    if user and password:
        return []
    if user or password:
        spelling = (
            USER_SETTINGS.index(user_name) if user else PASSWORD_SETTINGS.index(password_name)
        )
        return [PASSWORD_SETTINGS[spelling] if user else USER_SETTINGS[spelling]]
    return [] if settings.POSTMARK_WEBHOOK_CREDENTIALS else [USER_SETTINGS[0], PASSWORD_SETTINGS[0]]


def webhook_credentials() -> list[tuple[str, str]]:
    """Every accepted (user, password): POSTMARK_WEBHOOK_USER/_PASSWORD (or their original
    names, POSTMARK_API_USER/_PASSWORD), then POSTMARK_WEBHOOK_CREDENTIALS."""
    pairs: list[tuple[str, str]] = []
    user, password = basic_auth()
    if user or password:
        pairs.append((user, password))
    pairs.extend(
        (str(user), str(password)) for user, password in settings.POSTMARK_WEBHOOK_CREDENTIALS
    )
    return pairs


def authorized(request: HttpRequest) -> bool:
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


#: The secret header's default name. Never stored, whatever POSTMARK_WEBHOOK_HEADER says now: a
#: webhook set up before the name changed may still send it.
DEFAULT_SECRET_HEADER = "X-Postmark-Webhook-Secret"


def secret_header() -> str:
    return str(settings.POSTMARK_WEBHOOK_HEADER)


def webhook_secrets() -> list[str]:
    """The accepted secrets, the current one (what ``postmark_webhooks`` sets) first. Entries
    that are not non-empty strings are left out (system check postmark.E042): an empty one
    would match a missing header."""
    value = settings.POSTMARK_WEBHOOK_SECRETS
    if not isinstance(value, list | tuple):
        return []
    return [str(secret) for secret in value if isinstance(secret, str) and secret]


def secret_required() -> bool:
    """Whether outbound events must carry the header: whenever POSTMARK_WEBHOOK_SECRETS is set,
    even to something unusable, which then matches nothing."""
    return bool(settings.POSTMARK_WEBHOOK_SECRETS)


def carries_secret(request: HttpRequest) -> bool:
    """Whether the request's secret header holds one of the accepted secrets (True when none is
    required). Header values arrive decoded as Latin-1 (PEP 3333; Django's ASGI handler alike),
    so that encoding gives back the bytes that were sent."""
    if not secret_required():
        return True
    given = request.headers.get(secret_header(), "").encode("latin-1", "replace")
    # Compared with every secret, without stopping at a match (as the credentials above), so
    # the time taken says nothing about which secret matched or how much of one.
    matched = False
    for secret in webhook_secrets():
        matched |= hmac.compare_digest(given, secret.encode())
    return matched
