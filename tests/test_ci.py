"""CI's own guards: a run that silently tested less than it claims would prove nothing."""

from __future__ import annotations

import os

import pytest
from django.db import connection

from postmark import sql

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
    assert (connection.vendor not in sql._COMPILED_VENDORS) is portable
