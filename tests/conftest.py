from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import hypothesis
import pytest
from django.core import mail
from pytest_django.live_server_helper import LiveServer

from postmark.client import Client
from postmark.storage import compiled
from tests.support.fake_postmark import FakePostmark, start


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


@pytest.fixture
def api_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every request the API client makes in this process, as "METHOD /path", in order."""
    calls: list[str] = []
    real_request = Client.request

    def counted(self: Client, method: str, path: str, **kwargs: Any) -> Any:
        calls.append(f"{method} {path}")
        return real_request(self, method, path, **kwargs)

    monkeypatch.setattr(Client, "request", counted)
    return calls


@pytest.fixture(autouse=True)
def _postmark_backend(settings: pytest.FixtureRequest) -> None:
    # pytest-django swaps in the locmem backend; the suite is about ours.
    settings.EMAIL_BACKEND = "postmark.backends.PostmarkBackend"  # type: ignore[attr-defined]
    mail.outbox = []


# Hypothesis: a few examples per property by default, to keep the suite fast; many more with
# HYPOTHESIS_PROFILE=fuzz (``make fuzz``). No deadline: examples go through the database, whose
# timing varies from run to run.
for _name, _examples in (("ci", 30), ("fuzz", 2000)):
    hypothesis.settings.register_profile(
        _name,
        max_examples=_examples,
        deadline=None,
        suppress_health_check=[hypothesis.HealthCheck.too_slow],
    )
hypothesis.settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(autouse=True)
def _storage_path(monkeypatch: pytest.MonkeyPatch) -> None:
    # POSTMARK_TEST_PORTABLE_SQL=1: storage takes the ORM's path (the one databases other than
    # SQLite, PostgreSQL and MySQL take), so that CI runs the whole suite on it too.
    if os.environ.get("POSTMARK_TEST_PORTABLE_SQL") == "1":
        monkeypatch.setattr(compiled, "VENDORS", frozenset())


@pytest.fixture
def app_server(transactional_db: None, settings: Any) -> Iterator[LiveServer]:
    """The test project on a real HTTP port (pytest-django's own ``live_server`` fixture cannot
    start under tests.settings, which has no STATIC_URL for its static-files handler)."""
    settings.STATIC_URL = "/static/"
    server = LiveServer("127.0.0.1:0")
    yield server
    server.stop()
