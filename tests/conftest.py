from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from django.core import mail

from postmark import sql
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


@pytest.fixture(autouse=True)
def _storage_path(monkeypatch: pytest.MonkeyPatch) -> None:
    # POSTMARK_TEST_PORTABLE_SQL=1: storage takes the ORM's path (the one databases other than
    # SQLite, PostgreSQL and MySQL take), so that CI runs the whole suite on it too.
    if os.environ.get("POSTMARK_TEST_PORTABLE_SQL") == "1":
        monkeypatch.setattr(sql, "_COMPILED_VENDORS", frozenset())
