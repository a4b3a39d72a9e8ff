"""System checks name the sending setting to fix."""

from __future__ import annotations

import django
import pytest
from django.core.checks import run_checks

# Django 6.1 runs database checks too.
pytestmark = pytest.mark.django_db


def ids() -> set[str]:
    return {
        message.id for message in run_checks() if message.id and message.id.startswith("postmark.E")
    }


def test_configured_backend_passes(settings) -> None:  # type: ignore[no-untyped-def]
    assert not {"postmark.E001", "postmark.E002"} & ids()


def test_missing_api_key_is_e001(settings) -> None:  # type: ignore[no-untyped-def]
    settings.POSTMARK_API_KEY = None
    assert "postmark.E001" in ids()


def test_test_mode_needs_no_key(settings) -> None:  # type: ignore[no-untyped-def]
    settings.POSTMARK_API_KEY = None
    settings.POSTMARK_TEST_MODE = True
    assert "postmark.E001" not in ids()


def test_other_backend_needs_no_key(settings) -> None:  # type: ignore[no-untyped-def]
    settings.POSTMARK_API_KEY = None
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert "postmark.E001" not in ids()


def test_unknown_track_links_is_e002(settings) -> None:  # type: ignore[no-untyped-def]
    settings.POSTMARK_TRACK_LINKS = "Always"
    assert "postmark.E002" in ids()


@pytest.mark.skipif(django.VERSION < (6, 1), reason="MAILERS is new in Django 6.1")
def test_mailers_with_postmark_and_no_key_is_e001(settings) -> None:  # type: ignore[no-untyped-def]
    del settings.EMAIL_BACKEND
    settings.MAILERS = {"default": {"BACKEND": "postmark.backends.PostmarkBackend"}}
    settings.POSTMARK_API_KEY = None
    assert "postmark.E001" in ids()
