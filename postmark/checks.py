"""System checks: misconfiguration is reported by ``manage.py check``, naming the setting."""

from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage, Error, Warning, register

from .conf import settings
from .facts import TRACK_LINKS_VALUES


@register()
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    if (
        any(backend.startswith("postmark.") for backend in _email_backends())
        and not settings.POSTMARK_API_KEY
        and not settings.POSTMARK_TEST_MODE
    ):
        messages.append(
            Error(
                "Email is sent through Postmark but POSTMARK_API_KEY is not set.",
                hint="Set POSTMARK_API_KEY to your server token, or POSTMARK_TEST_MODE = True.",
                id="postmark.E001",
            )
        )
    track_links = settings.POSTMARK_TRACK_LINKS
    if track_links is not None and track_links not in TRACK_LINKS_VALUES:
        messages.append(
            Error(
                f"POSTMARK_TRACK_LINKS is {track_links!r}.",
                hint='Use "None", "HtmlAndText", "HtmlOnly" or "TextOnly".',
                id="postmark.E002",
            )
        )
    from .views import webhook_credentials

    # One of the pair without the other is a mistake too: the views would expect an empty one.
    half_set = bool(settings.POSTMARK_API_USER) != bool(settings.POSTMARK_API_PASSWORD)
    if not webhook_credentials() or half_set:
        messages.append(
            Warning(
                "POSTMARK_API_USER and POSTMARK_API_PASSWORD are not set: the webhook views accept "
                "requests from anyone.",
                hint="Set both, and put them in the webhook URL: https://user:pass@host/postmark/bounce/",
                id="postmark.W001",
            )
        )
    return messages


def _email_backends() -> list[str]:
    """The configured email backends: MAILERS (Django 6.1+) if set, else EMAIL_BACKEND."""
    mailers = getattr(settings, "MAILERS", None) if settings.is_overridden("MAILERS") else None
    if mailers:
        return [str(config.get("BACKEND", "")) for config in mailers.values()]
    # Read only when set: on Django 6.1 merely reading EMAIL_BACKEND warns of its deprecation.
    if settings.is_overridden("EMAIL_BACKEND"):
        return [str(getattr(settings, "EMAIL_BACKEND", ""))]
    return []
