"""Every setting of django-postmark, its default and what it means.

Each attribute ``NAME`` below is read from the Django setting ``POSTMARK_NAME``.
"""

from __future__ import annotations

from typing import Any

from appconf import AppConf
from django.conf import settings

__all__ = ["PostmarkConf", "settings"]


class PostmarkConf(AppConf):
    # --- Sending -------------------------------------------------------------------------------
    #: The Postmark server token. Required to send, unless TEST_MODE is on.
    API_KEY: str | None = None
    #: Where the API lives; point it at ``python manage.py postmark_sandbox`` to try things out.
    API_URL: str = "https://api.postmarkapp.com"
    #: Send with the token ``POSTMARK_API_TEST``: Postmark validates, nothing is delivered.
    TEST_MODE: bool = False
    #: (connect, read) timeouts in seconds for every API request; a single number sets both.
    TIMEOUT: float | tuple[float, float] = (5.0, 30.0)
    #: How many times a request is retried when Postmark certainly did not process it
    #: (connection refused, 429, 503). Never after a 500, a read timeout or a dropped connection.
    MAX_RETRIES: int = 3
    #: Seconds before the first retry; each further retry waits twice as long.
    RETRY_BACKOFF: float = 0.5
    #: Messages per batch API call; Postmark accepts at most 500.
    BATCH_SIZE: int = 500

    # Defaults for Postmark's per-message options; a message's own attribute wins.
    #: Tag for messages that set none.
    TAG: str | None = None
    #: Metadata merged under each message's own metadata.
    METADATA: dict[str, str] = {}
    #: Open tracking: True, False, or None to use the server's setting.
    TRACK_OPENS: bool | None = None
    #: Link tracking: "None", "HtmlAndText", "HtmlOnly", "TextOnly", or None for the server's.
    TRACK_LINKS: str | None = None
    #: Message stream for messages that set none; None uses the server's default ("outbound").
    MESSAGE_STREAM: str | None = None

    # --- Default receivers (AppConfig.ready() connects each one that is on) ----------------------
    #: Log every sent message as a ``postmark.models.Message`` row.
    STORE_MESSAGES: bool = True
    #: Also keep text and HTML bodies on those rows.
    STORE_BODIES: bool = False

    # --- Webhooks ----------------------------------------------------------------------------
    #: Basic-auth credentials the webhook views require (put them in the webhook URL:
    #: ``https://user:pass@host/postmark/bounce/``).
    API_USER: str | None = None
    API_PASSWORD: str | None = None

    class Meta:
        prefix = "postmark"

    def configure_batch_size(self, value: Any) -> int:
        from django.core.exceptions import ImproperlyConfigured

        if not isinstance(value, int) or not 1 <= value <= 500:
            raise ImproperlyConfigured("POSTMARK_BATCH_SIZE must be a whole number from 1 to 500.")
        return value
