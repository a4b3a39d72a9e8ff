"""Storage's one interface and its two paths: ``statements`` is what callers use, and it hands
each operation to ``compiled`` or ``orm``, which offer the same operations with the same
arguments, so that the two can be read side by side."""

from __future__ import annotations

import inspect
from types import ModuleType

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from postmark.models import Suppression
from postmark.storage import compiled, orm, statements

#: The operations, as the ``StoragePath`` protocol that mypy checks both modules against lists them.
OPERATIONS = sorted(
    name
    for name, member in vars(statements.StoragePath).items()
    if inspect.isfunction(member) and not name.startswith("_")
)
PATHS = [compiled, orm]


def public_functions(module: ModuleType) -> set[str]:
    return {
        name
        for name, member in vars(module).items()
        if inspect.isfunction(member)
        and member.__module__ == module.__name__
        and not name.startswith("_")
    }


def test_the_interface_offers_every_operation_and_the_database_limits() -> None:
    assert OPERATIONS == ["bulk_insert", "insert", "update_one", "update_rows", "upsert"]
    assert public_functions(statements) == {*OPERATIONS, "body_limit", "is_deadlock"}


@pytest.mark.parametrize("path", PATHS, ids=lambda module: module.__name__)
def test_each_path_offers_exactly_the_operations_of_the_interface(path: ModuleType) -> None:
    assert public_functions(path) == set(OPERATIONS)


@pytest.mark.parametrize("name", OPERATIONS)
def test_both_paths_take_the_same_arguments_for_each_operation(name: str) -> None:
    assert inspect.signature(getattr(compiled, name)) == inspect.signature(getattr(orm, name))


@pytest.mark.parametrize("name", OPERATIONS)
def test_a_paths_operation_takes_the_interfaces_arguments_after_the_connection(name: str) -> None:
    on_path = inspect.signature(getattr(compiled, name))
    interface = inspect.signature(getattr(statements, name))

    first, *rest = on_path.parameters.values()
    assert first.name == "connection"
    assert rest == list(interface.parameters.values())
    assert on_path.return_annotation == interface.return_annotation


@pytest.mark.django_db
@pytest.mark.parametrize("speaks_the_database", [True, False], ids=["compiled", "orm"])
def test_an_upsert_is_one_compiled_statement_only_where_the_compiled_path_has_the_database(
    monkeypatch: pytest.MonkeyPatch, speaks_the_database: bool
) -> None:
    vendors = frozenset({connection.vendor}) if speaks_the_database else frozenset()
    monkeypatch.setattr(compiled, "VENDORS", vendors)
    row = {"email": "jane@example.com", "message_stream": "outbound", "reason": "HardBounce"}

    with CaptureQueriesContext(connection) as queries:
        statements.upsert(Suppression, row, ["email", "message_stream"], ["reason"])

    sql = [query["sql"].upper() for query in queries]
    compiled_clause = [s for s in sql if "ON CONFLICT" in s or "ON DUPLICATE KEY" in s]
    assert len(compiled_clause) == (1 if speaks_the_database else 0), sql
    assert Suppression.objects.get().reason == "HardBounce"
