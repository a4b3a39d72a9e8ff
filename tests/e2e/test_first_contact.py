"""The mistakes of a first install, each in a fresh Python process (settings and the app registry
are read once per process): each must end in one sentence that says what to do."""

from __future__ import annotations

import base64
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import postmark

REPO = Path(__file__).resolve().parents[2]

SETTINGS = """
import django
from django.conf import settings
settings.configure(
    INSTALLED_APPS={apps!r},
    DATABASES={{"default": {{"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}}},
    EMAIL_BACKEND="postmark.backends.PostmarkBackend",
    POSTMARK_API_KEY="server-token",
    ROOT_URLCONF="postmark.urls",
    ALLOWED_HOSTS=["*"],
    DEFAULT_FROM_EMAIL="sender@example.com",
    **{extra!r},
)
django.setup()
"""
APP = ["django.contrib.contenttypes", "django.contrib.auth", "postmark"]


def run_django(
    code: str, *, apps: list[str] = APP, path: Path | None = None, **extra: object
) -> str:
    """Run ``code`` after ``django.setup()`` with these settings; stdout and stderr together."""
    script = SETTINGS.format(apps=apps, extra=extra) + textwrap.dedent(code)
    pythonpath = [str(path)] if path else []
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=path or REPO,
        env={"PYTHONPATH": ":".join([*pythonpath, str(REPO)]), "PATH": "/usr/bin:/bin"},
    )
    return done.stdout + done.stderr


def test_sending_without_the_app_in_installed_apps_says_to_add_it() -> None:
    output = run_django(
        """
        from django.core.mail import send_mail
        send_mail("Hi", "Body", None, ["ann@example.com"])
        """,
        apps=["django.contrib.contenttypes"],
    )
    assert "ImproperlyConfigured" in output
    assert '"postmark" is not in INSTALLED_APPS' in output


def fake_distribution(site: Path, name: str, version: str) -> None:
    """The metadata pip leaves for a distribution that installed a top-level ``postmark``."""
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    (info / "top_level.txt").write_text("postmark\n")
    (info / "RECORD").write_text("postmark/__init__.py,,\n")


@pytest.mark.parametrize("other", ["python-postmark", "postmark"])
def test_another_postmark_distribution_installed_alongside_fails_the_system_check(
    tmp_path: Path, other: str
) -> None:
    fake_distribution(tmp_path, other, "0.6.1")
    output = run_django(
        """
        from django.core.management import call_command
        call_command("check")
        """,
        path=tmp_path,
    )
    assert "postmark.E010" in output
    assert f"{other} also installed a package named 'postmark': it and this app" in output
    assert "pip uninstall" in output


def test_no_clash_is_reported_when_this_app_is_alone() -> None:
    output = run_django(
        """
        from django.core.management import call_command
        call_command("check")
        """
    )
    assert "System check identified" in output, output
    assert "postmark.E010" not in output
    assert "Traceback" not in output


def test_an_init_overwritten_by_another_postmark_stops_django_setup_with_a_clear_error(
    tmp_path: Path,
) -> None:
    # What `pip install python-postmark` after this app leaves: our modules, its __init__.py.
    shutil.copytree(Path(postmark.__file__).parent, tmp_path / "postmark")
    (tmp_path / "postmark" / "__init__.py").write_text("class PMMail:\n    pass\n")
    fake_distribution(tmp_path, "python-postmark", "0.6.1")
    output = run_django("print('setup finished')", path=tmp_path)
    assert "setup finished" not in output
    assert "is not django-postmark's: python-postmark installed its own 'postmark'" in output


def test_importing_another_postmark_packages_name_says_which_package_this_is() -> None:
    with pytest.raises(
        ImportError, match=r"PMMail is python-postmark's\. This 'postmark' is django-postmark"
    ):
        from postmark import PMMail  # type: ignore[attr-defined]  # noqa: F401


WEBHOOK = """
import json
from django.test import Client
body = json.dumps({"RecordType": "Delivery", "MessageID": "0f3b8c1e-1111-4222-8333-444455556666",
                   "Recipient": "ann@example.com", "DeliveredAt": "2026-01-01T00:00:00Z"})
from django.core.management import call_command
call_command("migrate", verbosity=0)
client = Client()
for auth in ({}, {"HTTP_AUTHORIZATION": "Basic %s"}):
    answer = client.post("/bounce/", body, content_type="application/json", **auth)
    print("status", answer.status_code)
"""


def test_webhook_user_and_password_aliases_are_the_credentials_the_views_require() -> None:
    token = base64.b64encode(b"hook-user:hook-secret").decode()
    output = run_django(
        WEBHOOK % token,
        POSTMARK_WEBHOOK_USER="hook-user",
        POSTMARK_WEBHOOK_PASSWORD="hook-secret",
    )
    assert output.split("status")[1:] == [" 401\n", " 200\n"], output


def test_the_original_names_of_the_webhook_credentials_keep_working() -> None:
    token = base64.b64encode(b"hook-user:hook-secret").decode()
    output = run_django(
        WEBHOOK % token, POSTMARK_API_USER="hook-user", POSTMARK_API_PASSWORD="hook-secret"
    )
    assert output.split("status")[1:] == [" 401\n", " 200\n"], output


def test_an_alias_and_the_original_name_set_to_different_values_is_refused() -> None:
    output = run_django(
        "import postmark.conf", POSTMARK_WEBHOOK_USER="one", POSTMARK_API_USER="other"
    )
    assert "ImproperlyConfigured" in output
    assert "POSTMARK_WEBHOOK_USER and POSTMARK_API_USER are two names for one setting" in output
