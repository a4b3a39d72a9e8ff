"""The pytest plugin: registered under the ``pytest11`` entry point, so pytest loads it wherever
django-postmark is installed. It adds two fixtures:

``postmark_sandbox``
    The local Postmark stand-in (``postmark.sandbox.Sandbox``) for one test, with the app sending
    to it: inspect ``postmark_sandbox.messages``, ``.bounces``, ``.webhook_deliveries``.
``postmark_email_backend``
    The EMAIL_BACKEND used while the sandbox runs (``postmark.backends.PostmarkBackend``);
    override this fixture to send through your own subclass.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ..sandbox import Sandbox
from .sandbox import EMAIL_BACKEND, sandbox_for_tests


@pytest.fixture
def postmark_email_backend() -> str:
    """The EMAIL_BACKEND the app sends with while ``postmark_sandbox`` runs."""
    return EMAIL_BACKEND


@pytest.fixture
def postmark_sandbox(postmark_email_backend: str) -> Iterator[Sandbox]:
    """The local Postmark stand-in on a free loopback port; POSTMARK_API_URL points at it.

    It accepts any token and posts no webhooks until a test sets ``.webhooks.url``; webhooks go
    out at once and failures are retried after 50 and 100 ms.
    """
    with sandbox_for_tests(postmark_email_backend) as sandbox:
        yield sandbox
