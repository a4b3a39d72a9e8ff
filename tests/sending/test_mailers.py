"""Django 6.1's MAILERS: PostmarkBackend configured by alias, with OPTIONS for its arguments."""

from __future__ import annotations

import django
import pytest
from django.core.mail import EmailMessage

from tests.support.fake_postmark import FakePostmark

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(django.VERSION < (6, 1), reason="MAILERS is new in Django 6.1"),
]


@pytest.fixture
def mailers(settings, fake_postmark: FakePostmark) -> None:  # type: ignore[no-untyped-def]
    del settings.EMAIL_BACKEND
    settings.MAILERS = {
        "default": {"BACKEND": "postmark.backends.PostmarkBackend"},
        "broadcast": {
            "BACKEND": "postmark.backends.PostmarkBackend",
            "OPTIONS": {"api_key": "broadcast-token"},
        },
    }


def test_default_mailer_sends_through_postmark(mailers: None, fake_postmark: FakePostmark) -> None:
    message = EmailMessage("s", "b", "f@example.com", ["t@example.com"])
    assert message.send() == 1
    assert fake_postmark.requests[0].headers["X-Postmark-Server-Token"] == "server-token"
    assert message.postmark.status == "sent"  # type: ignore[attr-defined]


def test_options_of_a_named_mailer_reach_the_backend(
    mailers: None, fake_postmark: FakePostmark
) -> None:
    from django.core.mail import mailers as configured

    backend = configured["broadcast"]
    assert backend.alias == "broadcast"
    assert backend.send_messages([EmailMessage("s", "b", "f@example.com", ["t@example.com"])]) == 1
    assert fake_postmark.requests[0].headers["X-Postmark-Server-Token"] == "broadcast-token"
