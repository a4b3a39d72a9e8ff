"""System checks: misconfiguration is reported by ``manage.py check``, naming the setting."""

from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage, Error, Warning, register

from .conf import settings


@register()
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    email_backend = getattr(settings, "EMAIL_BACKEND", "")
    if (
        email_backend.startswith("postmark.")
        and not settings.POSTMARK_API_KEY
        and not settings.POSTMARK_TEST_MODE
    ):
        messages.append(
            Error(
                "EMAIL_BACKEND sends through Postmark but POSTMARK_API_KEY is not set.",
                hint="Set POSTMARK_API_KEY to your server token, or POSTMARK_TEST_MODE = True.",
                id="postmark.E001",
            )
        )
    track_links = settings.POSTMARK_TRACK_LINKS
    if track_links is not None and track_links not in ("None", "HtmlAndText", "HtmlOnly", "TextOnly"):
        messages.append(
            Error(
                f"POSTMARK_TRACK_LINKS is {track_links!r}.",
                hint='Use "None", "HtmlAndText", "HtmlOnly" or "TextOnly".',
                id="postmark.E002",
            )
        )
    if not (settings.POSTMARK_API_USER and settings.POSTMARK_API_PASSWORD):
        messages.append(
            Warning(
                "POSTMARK_API_USER and POSTMARK_API_PASSWORD are not set: the webhook views accept "
                "requests from anyone.",
                hint="Set both, and put them in the webhook URL: https://user:pass@host/postmark/bounce/",
                id="postmark.W001",
            )
        )
    return messages
