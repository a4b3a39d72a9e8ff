from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from django.core import mail

from tests.support.fake_postmark import FakePostmark, start

if TYPE_CHECKING:
    from postmark.sandbox import Sandbox


@pytest.fixture
def fake_postmark(settings: pytest.FixtureRequest) -> Iterator[FakePostmark]:
    """A scriptable Postmark on loopback; POSTMARK_API_URL points at it for the test."""
    fake = FakePostmark()
    server, _ = start(fake)
    settings.POSTMARK_API_URL = fake.url  # type: ignore[attr-defined]
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(autouse=True)
def _postmark_backend(settings: pytest.FixtureRequest) -> None:
    # pytest-django swaps in the locmem backend; the suite is about ours.
    settings.EMAIL_BACKEND = "postmark.backends.PostmarkBackend"  # type: ignore[attr-defined]
    mail.outbox = []


@pytest.fixture
def postmark_sandbox(settings: pytest.FixtureRequest) -> Iterator[Sandbox]:
    """The local Postmark stand-in on a free loopback port; POSTMARK_API_URL points at it.

    It accepts any token and posts no webhooks until a test sets ``.webhooks.url``; webhooks go
    out at once and failures are retried after 50 and 100 ms.
    """
    from postmark.sandbox import Sandbox

    sandbox = Sandbox(webhook_delay=0.0, retry_delays=(0.05, 0.1)).start()
    settings.POSTMARK_API_URL = sandbox.url  # type: ignore[attr-defined]
    try:
        yield sandbox
    finally:
        sandbox.stop()


# --- Hypothesis: few examples by default, many under HYPOTHESIS_PROFILE=fuzz ---------------------
def _register_hypothesis_profiles() -> None:
    import os

    from hypothesis import HealthCheck, settings

    # No deadline: examples go through the database, whose timing varies from run to run.
    settings.register_profile(
        "ci", max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow]
    )
    settings.register_profile(
        "fuzz", max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
    )
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


_register_hypothesis_profiles()
