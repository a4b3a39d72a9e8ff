"""Who may post webhooks: HTTP basic auth against the configured credentials."""

from __future__ import annotations

import base64
import binascii
import hmac

from django.http import HttpRequest

from ..conf import settings


def webhook_credentials() -> list[tuple[str, str]]:
    """Every accepted (user, password): API_USER/API_PASSWORD, then WEBHOOK_CREDENTIALS."""
    pairs: list[tuple[str, str]] = []
    if settings.POSTMARK_API_USER or settings.POSTMARK_API_PASSWORD:
        pairs.append((settings.POSTMARK_API_USER or "", settings.POSTMARK_API_PASSWORD or ""))
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
