"""One sandbox per test, with the app pointed at it: what the fixture and the mixin share."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.test import override_settings

from ..sandbox import Sandbox

#: The backend the app sends with while the sandbox runs. Django's test environment swaps
#: EMAIL_BACKEND for its in-memory one, which would never reach the sandbox.
EMAIL_BACKEND = "postmark.backends.PostmarkBackend"


@contextmanager
def sandbox_for_tests(email_backend: str = EMAIL_BACKEND) -> Iterator[Sandbox]:
    """A ``postmark.sandbox.Sandbox`` on a free loopback port, with POSTMARK_API_URL pointing at
    it and ``email_backend`` as EMAIL_BACKEND (or as the backend of every MAILERS alias) until
    the block ends.

    Without POSTMARK_API_KEY in the settings, a placeholder token is used (the sandbox takes any).
    Webhooks go nowhere until the test sets ``sandbox.webhooks.url``; then they go out at once,
    and failures are retried after 50 and 100 ms.
    """
    sandbox = Sandbox(webhook_delay=0.0, retry_delays=(0.05, 0.1)).start()
    overrides: dict[str, Any] = {"POSTMARK_API_URL": sandbox.url}
    mailers = getattr(settings, "MAILERS", None)
    if mailers is not None:
        # Django 6.1+ with MAILERS (then EMAIL_BACKEND may not be set): every alias sends so.
        overrides["MAILERS"] = {alias: {"BACKEND": email_backend} for alias in mailers}
    else:
        overrides["EMAIL_BACKEND"] = email_backend
    if not getattr(settings, "POSTMARK_API_KEY", None):
        overrides["POSTMARK_API_KEY"] = "sandbox-server-token"
    try:
        with override_settings(**overrides):
            yield sandbox
    finally:
        sandbox.stop()
