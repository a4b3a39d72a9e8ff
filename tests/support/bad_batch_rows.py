"""Hypothesis strategies that spoil a queued batch row's messages (the JSON ``QueuedBatch``
keeps): keys missing, wrong types, another JSON shape, an envelope version this release does
not write, huge values. Each draws a function that takes a good row's messages and returns
the spoilt JSON, which a test stores with ``QueuedBatch.objects.filter(...).update()``."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st

Spoil = Callable[[list[dict[str, Any]]], Any]

ENTRY_KEYS = ["envelope", "payload", "result"]
ENVELOPE_KEYS = ["from_email", "to", "cc", "bcc", "reply_to", "subject", "options"]
OPTIONS = ["tag", "metadata", "message_stream", "template_id", "template_alias", "bulk"]

#: Text any database stores (PostgreSQL takes no NUL or lone surrogate in JSON).
texts = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=8)
#: JSON values of every type, a few levels deep.
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | texts,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=5,
)
#: What no field of an envelope holds: huge numbers, deep nesting, objects, floats.
huge_or_odd = st.one_of(
    st.integers(min_value=2**63, max_value=10**60),
    st.integers(max_value=-(2**63)),
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(20, 200).map(lambda depth: _nested(depth)),
    st.dictionaries(texts, json_values, min_size=1, max_size=3),
)


def huge_but_readable(entries: list[dict[str, Any]]) -> Any:
    """Not spoilt: long texts and many addresses where texts and addresses belong."""
    grown = copy.deepcopy(entries)
    for entry in grown:
        entry["envelope"]["subject"] = "s" * 300_000
        entry["envelope"]["cc"] = [f"cc{n}@example.com" for n in range(2_000)]
    return grown


def _nested(depth: int) -> Any:
    value: Any = "deep"
    for _ in range(depth):
        value = [value]
    return value


def _at(position: int, entries: list[dict[str, Any]]) -> dict[str, Any]:
    return entries[position % len(entries)]


@st.composite
def spoilers(draw: st.DrawFn) -> Spoil:
    """A way to spoil a row's messages (each keeps the row unreadable whatever else it holds)."""
    kind = draw(
        st.sampled_from(
            [
                "not a list",
                "empty list",
                "entry not an object",
                "entry key missing",
                "entry key unknown",
                "envelope key missing",
                "envelope not an object",
                "wrong type",
                "unknown version",
                "huge error code",
                "payload not an object",
                "option unknown",
            ]
        )
    )
    position = draw(st.integers(0, 10))
    if kind == "not a list":
        replacement = draw(
            st.one_of(st.none(), st.booleans(), st.integers(), texts)
            | st.dictionaries(texts, json_values, max_size=3)
        )
        return lambda entries: replacement
    if kind == "empty list":
        return lambda entries: []
    if kind == "entry not an object":
        odd = draw(st.one_of(st.none(), st.integers(), texts, st.lists(json_values)))
        return lambda entries: [*entries[:position], odd, *entries[position:]]
    if kind == "entry key missing":
        key = draw(st.sampled_from(ENTRY_KEYS))
        return _edit(position, lambda entry: entry.pop(key))
    if kind == "entry key unknown":
        key = draw(texts.filter(bool).filter(lambda k: k not in ENTRY_KEYS))
        value = draw(json_values)
        return _edit(position, lambda entry: entry.__setitem__(key, value))
    if kind == "envelope key missing":
        key = draw(st.sampled_from(ENVELOPE_KEYS))
        return _edit(position, lambda entry: entry["envelope"].pop(key))
    if kind == "envelope not an object":
        odd = draw(st.one_of(st.none(), st.integers(), texts, st.lists(json_values)))
        return _edit(position, lambda entry: entry.__setitem__("envelope", odd))
    if kind == "wrong type":
        key = draw(st.sampled_from(["to", "cc", "subject", "from_email", "options", "reply_to"]))
        odd = draw(huge_or_odd | st.integers() | st.booleans())
        if key == "options":
            odd = draw(st.one_of(st.integers(), texts, st.lists(json_values)))
        return _edit(position, lambda entry: entry["envelope"].__setitem__(key, odd))
    if kind == "unknown version":
        version = draw(st.integers().filter(lambda v: v != 1) | texts | st.just(True))
        return _edit(position, lambda entry: entry["envelope"].__setitem__("version", version))
    if kind == "huge error code":
        code = draw(st.integers(min_value=2**31) | st.integers(max_value=-(2**31) - 1))
        result = {"status": "failed", "message": "refused", "error_code": code}
        return _edit(position, lambda entry: entry.__setitem__("result", result))
    if kind == "payload not an object":
        odd = draw(st.one_of(st.integers(), texts, st.lists(json_values)))
        return _edit(position, lambda entry: entry.__setitem__("payload", odd))
    option = draw(texts.filter(bool).filter(lambda k: k not in OPTIONS))
    value = draw(json_values)
    return _edit(position, lambda entry: entry["envelope"]["options"].__setitem__(option, value))


def _edit(position: int, change: Callable[[dict[str, Any]], Any]) -> Spoil:
    def spoil(entries: list[dict[str, Any]]) -> Any:
        spoilt = copy.deepcopy(entries)
        change(_at(position, spoilt))
        return spoilt

    return spoil
