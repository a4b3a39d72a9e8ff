"""CI's own guards: a run that silently tested less than it claims would prove nothing."""

from __future__ import annotations

import importlib.metadata
import json
import os
import sys
import sysconfig
from pathlib import Path

import pytest
from django.db import connection
from django.template.loader import get_template

import postmark
from postmark.storage import compiled

VENDOR_FOR = {"sqlite": "sqlite", "postgres": "postgresql", "mysql": "mysql"}


@pytest.mark.django_db
def test_the_suite_runs_on_the_database_it_was_asked_for() -> None:
    asked = os.environ.get("POSTMARK_TEST_DATABASE", "sqlite")
    assert asked in VENDOR_FOR, f"POSTMARK_TEST_DATABASE={asked!r}: use one of {sorted(VENDOR_FOR)}"
    assert connection.vendor == VENDOR_FOR[asked]
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)


@pytest.mark.django_db
def test_a_mariadb_run_is_on_mariadb() -> None:
    # .ci/run sets this for its MariaDB run: MySQL proper would take other paths (row aliases).
    if os.environ.get("POSTMARK_TEST_EXPECT_MARIADB") != "1":
        pytest.skip("only CI's MariaDB run sets POSTMARK_TEST_EXPECT_MARIADB=1")
    assert connection.vendor == "mysql" and connection.mysql_is_mariadb


def test_the_storage_path_is_the_one_the_run_was_asked_for() -> None:
    # POSTMARK_TEST_PORTABLE_SQL=1 (tests/conftest.py) runs the suite on the ORM's path.
    portable = os.environ.get("POSTMARK_TEST_PORTABLE_SQL") == "1"
    assert (connection.vendor not in compiled.VENDORS) is portable


def test_a_run_against_the_wheel_uses_the_installed_package() -> None:
    # make test-wheel (.ci/test_wheel.py) sets this. The run proves what ships only if the app,
    # its templates and its pytest plugin all come from the wheel installed in the venv, not
    # from a checkout on sys.path or an editable install.
    if os.environ.get("POSTMARK_TEST_EXPECT_INSTALLED") != "1":
        pytest.skip("only make test-wheel sets POSTMARK_TEST_EXPECT_INSTALLED=1")
    package = Path(sysconfig.get_paths()["purelib"]).resolve() / "postmark"
    assert Path(postmark.__file__).resolve() == package / "__init__.py"
    plugin = sys.modules["postmark.testing.pytest_plugin"]
    assert plugin.__file__ and Path(plugin.__file__).resolve().is_relative_to(package)
    template = get_template("admin/postmark/overview.html").origin.name  # type: ignore[attr-defined]
    assert Path(template).resolve().is_relative_to(package)
    url = json.loads(
        importlib.metadata.distribution("django-postmark").read_text("direct_url.json") or "{}"
    )
    assert url.get("archive_info") is not None and url["url"].endswith(".whl"), url
