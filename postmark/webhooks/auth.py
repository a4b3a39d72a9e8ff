"""Who may post webhooks: HTTP basic auth against the configured credentials."""

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
