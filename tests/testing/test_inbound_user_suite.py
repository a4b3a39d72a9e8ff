"""The inbound test helpers as a user meets them: a small project of their own (its URLs, its
webhook credentials, a route to a mailbox its app connects) whose suite delivers inbound mail
through the real view and router with the
``postmark_inbound`` fixture (found through the installed package's pytest entry point, with no
conftest) and with ``PostmarkInboundMixin``, run with ``python -m pytest`` and
``python -m django test`` in processes of their own."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support.user_project import run

SETTINGS = """
SECRET_KEY = "user-project"
USE_TZ = True
INSTALLED_APPS = [
    "django.contrib.contenttypes", "django.contrib.auth", "postmark", "support.apps.Support",
]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
ROOT_URLCONF = "support.urls"
POSTMARK_API_KEY = "not-used"
POSTMARK_WEBHOOK_USER = "postmark"
POSTMARK_WEBHOOK_PASSWORD = "a-long-random-password"
POSTMARK_INBOUND_ROUTES = [{"mailbox": "tickets", "mailbox_hash": "^ticket-"}]
"""

APPS = """
from django.apps import AppConfig


class Support(AppConfig):
    name = "support"

    def ready(self):
        from . import mailbox  # noqa: F401  (connects the mailbox)
"""

MAILBOX = """
from postmark.inbound import mailbox

#: What the mailbox took in: (mailbox hash, reply text, attachment names).
tickets = []


@mailbox("tickets")
def on_ticket_mail(sender, mail, **kwargs):
    tickets.append((mail.mailbox_hash, mail.reply_text, [a.name for a in mail.attachments]))
"""

URLS = """
from django.urls import include, path

urlpatterns = [path("postmark/", include("postmark.urls"))]
"""

PYTEST_TESTS = """
import pytest

from support.mailbox import tickets


@pytest.mark.django_db
def test_a_reply_reaches_the_mailbox(postmark_inbound):
    delivery = postmark_inbound(
        to="reply+ticket-8@in.example.com",
        text="Solved.\\n\\nOn Mon, 5 Jan 2026, Support wrote:\\n> Did it work?",
        attachments=[("log.txt", "ok", "text/plain")],
    )
    assert delivery.status_code == 200
    assert tickets[-1] == ("ticket-8", "Solved.", ["log.txt"])
    assert delivery.webhook_event.status == "processed"
    assert delivery.inbound_message.status == "processed"
    assert "RawEmail" in delivery.payload
"""

UNITTEST_TESTS = """
from django.test import TestCase

from postmark.testing.mixins import PostmarkInboundMixin
from support.mailbox import tickets


class MailboxTests(PostmarkInboundMixin, TestCase):
    def test_a_reply_reaches_the_mailbox(self):
        delivery = self.deliver_inbound(to="reply+ticket-9@in.example.com", text="Thanks")
        self.assertEqual(delivery.status_code, 200)
        self.assertEqual(tickets[-1], ("ticket-9", "Thanks", []))
"""


@pytest.fixture(scope="module")
def user_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("inbound-project")
    (root / "pytest.ini").write_text(
        "[pytest]\nDJANGO_SETTINGS_MODULE = support.settings\npythonpath = .\n"
    )
    app = root / "support"
    app.mkdir()
    files = {
        "__init__.py": "",
        "settings.py": SETTINGS,
        "apps.py": APPS,
        "mailbox.py": MAILBOX,
        "urls.py": URLS,
        "test_mailbox.py": PYTEST_TESTS,
        "test_mixin.py": UNITTEST_TESTS,
    }
    for name, text in files.items():
        (app / name).write_text(text)
    return root


def test_a_users_pytest_suite_delivers_inbound_mail_with_the_fixture(user_project: Path) -> None:
    done = run(user_project, "-m", "pytest", "-q", "-p", "no:cacheprovider", "support")
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    # The mixin's TestCase is collected too: both ran and passed.
    assert re.search(r"^2 passed", output, re.M), output


def test_a_users_django_test_run_delivers_inbound_mail_with_the_mixin(user_project: Path) -> None:
    done = run(
        user_project, "-m", "django", "test", "support.test_mixin", "--settings=support.settings"
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Ran 1 test" in done.stderr and "OK" in done.stderr, done.stderr
