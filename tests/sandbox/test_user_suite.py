"""The test helpers as a user meets them: a small Django project of their own, written to a
temporary folder, whose suite uses the ``postmark_sandbox`` fixture (found through the installed
package's pytest entry point, with no conftest), ``PostmarkSandboxMixin`` and
``PostmarkTestBackend``, run with ``python -m pytest`` and with ``python -m django test`` in
processes of their own (``tests.support.user_project``). Nothing of this repository's tests is
importable there."""

from __future__ import annotations

import re
from pathlib import Path

import django
import pytest

from tests.support.user_project import run

SETTINGS = """
SECRET_KEY = "user-project"
USE_TZ = True
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "postmark"]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
EMAIL_BACKEND = "postmark.backends.PostmarkBackend"
POSTMARK_API_URL = "https://api.postmarkapp.com"
"""

PYTEST_TESTS = """
import pytest
from django.core import mail


@pytest.mark.django_db
def test_the_welcome_mail_reaches_postmark(postmark_sandbox):
    mail.send_mail("Welcome", "Hi Ann", "shop@example.com", ["ann@example.com"])
    [sent] = postmark_sandbox.messages
    assert (sent.to, sent.subject, sent.text_body) == (["ann@example.com"], "Welcome", "Hi Ann")


@pytest.mark.django_db
def test_each_test_gets_a_sandbox_of_its_own_that_bounces_like_postmark(postmark_sandbox):
    assert postmark_sandbox.messages == []
    mail.send_mail("Hi", "Body", "shop@example.com", ["hardbounce@bounce-testing.postmarkapp.com"])
    assert [bounce.bounce_type.name for bounce in postmark_sandbox.bounces] == ["HardBounce"]


@pytest.mark.django_db
def test_the_test_backend_keeps_each_payload(settings):
    settings.EMAIL_BACKEND = "postmark.testing.backend.PostmarkTestBackend"
    mail.send_mail("Receipt", "Thanks", "shop@example.com", ["Bob <bob@example.com>"])
    [sent] = mail.outbox
    assert sent.postmark_payload["To"] == "Bob <bob@example.com>"
    assert sent.postmark.status == "sent" and sent.postmark.message_id


def test_after_the_sandbox_the_settings_are_the_projects_again(settings):
    assert settings.POSTMARK_API_URL == "https://api.postmarkapp.com"
"""

# The same project on Django 6.1's MAILERS (where EMAIL_BACKEND may not be set at all).
SETTINGS_WITH_MAILERS = SETTINGS.replace(
    'EMAIL_BACKEND = "postmark.backends.PostmarkBackend"',
    'MAILERS = {"default": {"BACKEND": "postmark.backends.PostmarkBackend"}}',
)

UNITTEST_TESTS = """
from django.core import mail
from django.test import TestCase

from postmark.testing.mixins import PostmarkSandboxMixin


class WelcomeMailTests(PostmarkSandboxMixin, TestCase):
    def test_the_welcome_mail_reaches_postmark(self):
        mail.send_mail("Welcome", "Hi Ann", "shop@example.com", ["ann@example.com"])
        [sent] = self.postmark_sandbox.messages
        self.assertEqual(sent.to, ["ann@example.com"])
"""


@pytest.fixture(scope="module")
def user_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("user-project")
    (root / "pytest.ini").write_text(
        "[pytest]\nDJANGO_SETTINGS_MODULE = shop.settings\npythonpath = .\n"
    )
    shop = root / "shop"
    shop.mkdir()
    (shop / "__init__.py").write_text("")
    (shop / "settings.py").write_text(SETTINGS)
    (shop / "settings_mailers.py").write_text(SETTINGS_WITH_MAILERS)
    (shop / "test_mail.py").write_text(PYTEST_TESTS)
    (shop / "test_mixin.py").write_text(UNITTEST_TESTS)
    return root


def test_a_users_pytest_suite_gets_the_fixture_from_the_installed_package(
    user_project: Path,
) -> None:
    done = run(user_project, "-m", "pytest", "-q", "-p", "no:cacheprovider")
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert re.search(r"^5 passed", output, re.M), output


def test_a_users_django_test_run_gets_the_sandbox_from_the_mixin(user_project: Path) -> None:
    done = run(user_project, "-m", "django", "test", "shop.test_mixin", "--settings=shop.settings")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Ran 1 test" in done.stderr and "OK" in done.stderr, done.stderr


@pytest.mark.skipif(django.VERSION < (6, 1), reason="MAILERS is new in Django 6.1")
def test_a_users_suite_on_mailers_gets_the_sandbox_too(user_project: Path) -> None:
    sandbox_tests = "shop/test_mail.py::test_the_welcome_mail_reaches_postmark"
    pytest_run = run(
        user_project, "-m", "pytest", "-q", "--ds=shop.settings_mailers", sandbox_tests
    )
    assert re.search(r"^1 passed", pytest_run.stdout, re.M), pytest_run.stdout + pytest_run.stderr
    test_run = run(
        user_project, "-m", "django", "test", "shop.test_mixin", "--settings=shop.settings_mailers"
    )
    assert test_run.returncode == 0 and "Ran 1 test" in test_run.stderr, test_run.stderr
