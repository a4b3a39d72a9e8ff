"""CI's own guards: a run that silently tested less than it claims would prove nothing."""

from __future__ import annotations

import os

import pytest
from django.db import connection

VENDOR_FOR = {"sqlite": "sqlite", "postgres": "postgresql", "mysql": "mysql"}


@pytest.mark.django_db
def test_the_suite_runs_on_the_database_it_was_asked_for() -> None:
    asked = os.environ.get("POSTMARK_TEST_DATABASE", "sqlite")
    assert asked in VENDOR_FOR, f"POSTMARK_TEST_DATABASE={asked!r}: use one of {sorted(VENDOR_FOR)}"
    assert connection.vendor == VENDOR_FOR[asked]
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)
