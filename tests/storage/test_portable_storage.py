"""Every storage path gives the same result on every database.

Each test runs once per storage path (``storage.compiled``, the statements of the database the
suite runs on, and ``storage.orm``, which other databases take), and CI runs the suite on SQLite,
PostgreSQL and MariaDB: so each property below holds on the three databases and both paths.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from django.db import close_old_connections, connection, transaction
from hypothesis import HealthCheck, example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from postmark.models import Bounce, Suppression
from postmark.storage import compiled, statements
from postmark.storage import values as value_rules

pytestmark = pytest.mark.django_db

examples = hypothesis_settings(
    deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
KEY = ["email", "message_stream"]
#: Every Bounce column a newer copy rewrites, as the bounce receiver has it.
BOUNCE_UPDATED = [
    f.name
    for f in Bounce._meta.concrete_fields
    if f.name not in ("id", "postmark_id", "created_at")
]

# Any code point, surrogates and NUL included (json.loads makes both of "\ud800" and "\u0000").
any_text = st.text(st.characters(exclude_categories=()), max_size=1200)
# Fixed offsets from -14:00 to +14:00, as Postmark's timestamps carry them.
offsets = st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
moments = st.datetimes(datetime(1971, 1, 1), datetime(2099, 12, 31), timezones=offsets)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.floats() | any_text,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(any_text, children, max_size=3)
    ),
    max_leaves=40,
)


@pytest.fixture(params=["compiled", "orm"])
def path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "orm":
        monkeypatch.setattr(compiled, "VENDORS", frozenset())
    return str(request.param)


def deeply_nested(depth: int) -> Any:
    value: Any = "core"
    for level in range(depth):
        value = {"level": level, "inner": value} if level % 2 else [value]
    return value


def suppress(email: str, when: datetime, reason: str = "HardBounce") -> None:
    row = {"email": email, "message_stream": "outbound", "reason": reason, "suppressed_at": when}
    statements.upsert(Suppression, row, KEY, ["reason", "suppressed_at"], newer="suppressed_at")


def lift(email: str, when: datetime) -> None:
    row = {"email": email, "message_stream": "outbound", "lifted_at": when}
    statements.upsert(Suppression, row, KEY, ["lifted_at"], newer="lifted_at")


def bounce(postmark_id: int, **values: Any) -> None:
    row = {"postmark_id": postmark_id, "type": "HardBounce", **values}
    statements.upsert(Bounce, row, ["postmark_id"], BOUNCE_UPDATED)


@examples
@given(
    events=st.lists(
        st.tuples(st.booleans(), moments), min_size=1, max_size=8, unique_by=lambda e: e[1]
    ),
    order=st.randoms(),
)
def test_the_newest_event_of_each_kind_wins_whatever_the_arrival_order(
    path: str, events: list[tuple[bool, datetime]], order: Any
) -> None:
    Suppression.objects.all().delete()
    arrival = list(events)
    order.shuffle(arrival)

    for is_lift, when in arrival:
        if is_lift:
            lift("jane@example.com", when)
        else:
            suppress("jane@example.com", when, reason=f"at {when.isoformat()}"[:32])

    row = Suppression.objects.get()
    suppressions = [when for is_lift, when in events if not is_lift]
    lifts = [when for is_lift, when in events if is_lift]
    assert row.suppressed_at == max(suppressions, default=None)
    assert row.lifted_at == max(lifts, default=None)
    if suppressions:
        assert row.reason == f"at {max(suppressions).isoformat()}"[:32]
    assert row.active == (bool(suppressions) and (not lifts or max(lifts) < max(suppressions)))


@examples
@given(emails=st.lists(any_text, min_size=1, max_size=6))
@example(emails=["jose@example.com", "josé@example.com", "jose@example.com ", "JOSE@example.com"])
def test_distinct_addresses_keep_distinct_rows_and_are_found_exactly(
    path: str, emails: list[str]
) -> None:
    Suppression.objects.all().delete()
    moment = datetime(2026, 11, 27, tzinfo=UTC)
    for email in emails:
        suppress(email, moment)

    keys = {value_rules.clean_text(email)[:254] for email in emails}
    assert sorted(Suppression.objects.values_list("email", flat=True)) == sorted(keys)
    for key in keys:
        assert list(Suppression.objects.filter(email=key).values_list("email", flat=True)) == [key]


@examples
@given(moment=moments)
def test_a_moment_is_stored_as_the_same_instant_and_read_back_in_utc(
    path: str, moment: datetime
) -> None:
    Suppression.objects.all().delete()
    suppress("jane@example.com", moment)

    stored = Suppression.objects.get().suppressed_at
    assert stored == moment and stored.utcoffset() == timedelta(0)


@examples
@given(values=st.fixed_dictionaries({"type": any_text, "email": any_text, "details": any_text}))
def test_text_is_stored_as_the_one_rule_makes_it_and_cut_to_its_column(
    path: str, values: dict[str, str]
) -> None:
    Bounce.objects.all().delete()
    bounce(1, **values)

    row = Bounce.objects.values(*values).get()
    expected = {name: value_rules.clean_text(value) for name, value in values.items()}
    expected["type"], expected["email"] = expected["type"][:64], expected["email"][:254]
    assert row == expected


@examples
@given(metadata=json_values)
def test_json_is_stored_as_the_one_rule_makes_it(path: str, metadata: Any) -> None:
    Bounce.objects.all().delete()
    bounce(1, metadata={"value": metadata})  # a column's None is SQL NULL, not JSON null

    assert Bounce.objects.get().metadata == value_rules.json_value({"value": metadata})


def test_json_nested_deeper_than_every_database_takes_is_kept_as_text(path: str) -> None:
    bounce(1, metadata=deeply_nested(40))

    stored = Bounce.objects.get().metadata
    for _ in range(value_rules.JSON_MAX_DEPTH):
        stored = stored["inner"] if isinstance(stored, dict) else stored[0]
    assert json.loads(stored) == deeply_nested(40 - value_rules.JSON_MAX_DEPTH)


def test_non_finite_numbers_and_nul_are_stored_alike(path: str) -> None:
    bounce(1, metadata={"n": [float("inf"), float("-inf"), float("nan")], "\x00k": "a\x00b"})

    assert Bounce.objects.get().metadata == {
        "n": ["Infinity", "-Infinity", "NaN"],
        "\ufffdk": "a\ufffdb",
    }


def test_a_newer_copy_of_a_bounce_rewrites_every_column_but_the_key(path: str) -> None:
    bounce(7, details="first", metadata={"a": "1"}, inactive=True)
    created = Bounce.objects.get()
    bounce(7, details="second", metadata={"b": "2"})

    row = Bounce.objects.get()
    assert (row.pk, row.details, row.metadata, row.inactive) == (
        created.pk,
        "second",
        {"b": "2"},
        False,
    )
    assert row.created_at == created.created_at and row.updated_at >= created.updated_at


# --- concurrent copies ---------------------------------------------------------------------------

COPIES = 8


@pytest.fixture
def concurrent() -> Iterator[None]:
    if connection.vendor == "sqlite":
        pytest.skip("SQLite serialises writers: concurrency is proved on PostgreSQL and MariaDB")
    yield


def at_once(work: Any, count: int = COPIES) -> list[BaseException]:
    """Run work(i) in ``count`` threads, each in a transaction on its own connection."""
    barrier = threading.Barrier(count)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait()
            with transaction.atomic():
                work(i)
        except BaseException as error:  # reported by the test
            errors.append(error)
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


@pytest.mark.django_db(transaction=True)
def test_concurrent_upserts_of_one_key_keep_one_row_and_the_newest_value(
    path: str, concurrent: None
) -> None:
    base = datetime(2026, 11, 27, 12, tzinfo=UTC)

    errors = at_once(lambda i: suppress("jane@example.com", base + timedelta(minutes=i), f"r{i}"))

    assert errors == []
    row = Suppression.objects.get()
    assert (row.reason, row.suppressed_at) == (
        f"r{COPIES - 1}",
        base + timedelta(minutes=COPIES - 1),
    )


@pytest.mark.django_db(transaction=True)
def test_concurrent_copies_of_one_bounce_keep_one_row(path: str, concurrent: None) -> None:
    errors = at_once(lambda i: bounce(42, details=f"copy {i}"))

    assert errors == []
    assert Bounce.objects.count() == 1
