"""Cleaning JSON for storage copies a container only when something in it changes: a webhook's
large Metadata is not copied twice on its way to the Bounce row (``events.clean_json``, then
``value_rules.json_value``), and what each makes of a value is what the one rule says."""

from __future__ import annotations

import json
import math
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from postmark import events
from postmark.storage import values as value_rules

text = st.text(st.characters(codec=None), max_size=5)  # NUL and lone surrogates included
values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), text),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(text, inner, max_size=4),
        st.tuples(inner, inner),
    ),
    max_leaves=20,
)


def stored_by_the_rule(value: Any, depth: int = 0) -> Any:
    """What storage.values' rule makes of a value, written out plainly (docs/databases.rst)."""
    if isinstance(value, str):
        return "".join("\ufffd" if c == "\x00" or "\ud800" <= c <= "\udfff" else c for c in value)
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return int(value) if abs(value) >= 1e16 else value
    if isinstance(value, dict | list | tuple):
        if depth >= value_rules.JSON_MAX_DEPTH:
            return stored_by_the_rule(json.dumps(value, allow_nan=True))
        if isinstance(value, dict):
            return {
                stored_by_the_rule(k): stored_by_the_rule(v, depth + 1) for k, v in value.items()
            }
        return [stored_by_the_rule(item, depth + 1) for item in value]
    return value


def strings(value: Any) -> list[str]:
    """Every string of a value, keys included."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (*strings(k), *strings(v))]
    if isinstance(value, list):
        return [s for item in value for s in strings(item)]
    return []


def containers(value: Any) -> list[int]:
    """The ids of every list and dict in a value."""
    found: list[int] = []
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, dict | list):
            found.append(id(item))
            pending.extend(item.values() if isinstance(item, dict) else item)
    return found


@given(values)
def test_json_value_stores_what_the_rule_says(value: Any) -> None:
    stored = value_rules.json_value(value)

    assert json.dumps(stored) == json.dumps(stored_by_the_rule(value))


@given(
    st.recursive(
        st.one_of(st.integers(), st.text("ab\u00e9\u4e2d", max_size=4)), st.lists, max_leaves=10
    )
)
def test_json_value_returns_a_value_needing_nothing_as_it_is(value: Any) -> None:
    assert value_rules.json_value(value) is value


@given(values)
def test_clean_json_cleans_every_string_and_shares_what_it_leaves_alone(value: Any) -> None:
    value = json.loads(json.dumps(value))  # what a webhook's JSON holds: lists, str keys
    cleaned = events.clean_json(value)

    for string in strings(cleaned):
        assert "\x00" not in string
        string.encode()  # no lone surrogate
    # Every container of the result that has nothing to clean is the original's own object.
    assert events.clean_json(cleaned) is cleaned
    assert set(containers(events.clean_json(cleaned))) <= set(containers(cleaned))


def test_a_large_clean_metadata_is_not_copied() -> None:
    metadata = {"k": [[str(n)] for n in range(1000)]}

    assert events.clean_json(metadata) is metadata
    assert value_rules.json_value(metadata) is metadata


def test_one_dirty_string_copies_only_the_containers_above_it() -> None:
    clean = [["a"], ["b"]]
    metadata = {"clean": clean, "dirty": ["x\x00"]}

    cleaned = events.clean_json(metadata)
    stored = value_rules.json_value(metadata)

    # The same text rule both ways (U+FFFD for NUL), each copying only what holds the change.
    assert cleaned == {"clean": clean, "dirty": ["x\ufffd"]} and cleaned["clean"] is clean
    assert stored == cleaned and stored["clean"] is clean
    assert metadata["dirty"] == ["x\x00"]  # the payload itself is left as it came
