"""The pytest plugin: registered under the ``pytest11`` entry point, so pytest loads it wherever
django-postmark is installed. It adds three fixtures:

``postmark_sandbox``
    The local Postmark stand-in (``postmark.sandbox.Sandbox``) for one test, with the app sending
    to it: inspect ``postmark_sandbox.messages``, ``.bounces``, ``.webhook_deliveries``.
``postmark_email_backend``
    The EMAIL_BACKEND used while the sandbox runs (``postmark.backends.PostmarkBackend``);
    override this fixture to send through your own subclass.
``postmark_inbound``
    Inbound mail through the site's real inbound webhook, as Postmark posts it:
    ``postmark_inbound(to="help@in.example.com", text="Hi")`` (or ``.deliver(...)``) answers
    an ``InboundDelivery`` (``postmark.testing.inbound_delivery``). Needs database access.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from ..sandbox import Sandbox
from .sandbox import EMAIL_BACKEND, sandbox_for_tests

if TYPE_CHECKING:
    from .inbound_delivery import InboundTestClient


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


@pytest.fixture
def postmark_inbound() -> InboundTestClient:
    """Delivers inbound mail to the site's inbound webhook URL (``postmark_inbound_hook``) with
    Django's test client and the configured webhook credentials: the real view, stored event
    and receivers. Override it to post elsewhere: ``return InboundTestClient(url="/other/")``."""
    # Imported here: the plugin loads before Django is set up, and this needs the models.
    from .inbound_delivery import InboundTestClient

    return InboundTestClient()
