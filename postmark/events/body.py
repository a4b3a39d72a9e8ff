"""What a webhook body may hold: ``load(text)`` is the one rule, checked before anything reads it.

A JSON object, finite numbers, at most ``MAX_DEPTH`` levels of nesting, and no more than
``MEMORY_PER_BYTE`` bytes of Python objects per byte of body once parsed. That last rule is
there because ``json.loads`` builds everything at once, and what it builds weighs far more than
the text that spells it: ``[]`` is 2 bytes of text and 64 of list, so a 512 KB body of empty
lists took 37 MB. ``measure`` counts what the text would build, before anything is built, in
linear time and without a Python loop per value (``str.count``, ``str.replace`` and regular
expressions, 64 KB at a time). Its counts hold for any text, valid JSON or not: ``json.loads``
stops at the first error, so it never builds more than the text spells. ``load`` first makes a
quicker count that pays for every key and string as if each were new (``str.split`` on quotes,
16 KB at a time: under a millisecond a megabyte of attachments); the exact one runs only when
that is over the limit.

The costs below are CPython's (64-bit, 3.11 to 3.13) as tracemalloc counts them, rounded up:
``tests/webhooks/test_memory.py`` checks that the estimate stays above what parsing takes, and
that a whole request stays within ``REQUEST_MEMORY_PER_BYTE`` (README states it).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, NamedTuple

from ..storage.values import JSON_MAX_DEPTH

#: The one nesting limit, the storage's (MariaDB refuses JSON 32 levels deep): deeper JSON is
#: refused before anything reads it, so no recursive code (ours, Django's JSON field, a driver)
#: meets it, and everything accepted is stored as JSON. Postmark's payloads nest 3 levels.
MAX_DEPTH = JSON_MAX_DEPTH

#: Bytes of Python objects a body's parse may take per byte of body (by ``measure``'s estimate).
#: Real payloads take 1 to 11: long strings (text, HTML, base64 attachments) about 1, a bounce
#: about 5, inbound mail's address lists and headers 7 to 11. Empty lists take 50, nested 50.
MEMORY_PER_BYTE = 16
#: The same for outbound events: they are small and flat (a bounce with its Content is one long
#: string), and their Metadata is stored as JSON, which ``json.dumps`` builds a second time.
OUTBOUND_MEMORY_PER_BYTE = 8
#: The most a whole webhook request holds at its peak per byte of body: the body, its text, the
#: parsed payload (at most MEMORY_PER_BYTE), the event, the stored row and the receivers' rows.
REQUEST_MEMORY_PER_BYTE = 24
#: A body smaller than this may always take MEMORY_PER_BYTE times this much (a 300-byte
#: Delivery with a dozen distinct keys weighs more per byte than a large body ever needs to).
_SMALL_BODY = 4096

# Bytes each thing costs once built (its header and the reference to it included).
_ARRAY = 88  # list header, the first allocation of its slots
_ELEMENT = 12  # one list slot, with list growth's spare room
_OBJECT = 144  # dict header, its keys table
_ENTRY = 40  # one dict entry: its share of the table, grown tables included
_KEY = 112  # a distinct key: its str and json's memo entry (a repeated key is shared)
_STRING = 64  # a str of Latin-1 text (the empty str is shared: free)
_WIDE_STRING = 88  # a str with a character beyond Latin-1
_NUMBER = 40  # an int or a float
# A float of 1e16 or more is stored as the integer it equals (storage.values): 1e308 becomes
# an int of 309 digits, and that much JSON text when a receiver stores it.
_HUGE_NUMBER = 640

_STRING_TOKEN = re.compile(r'"[^"]*"')
# Every string, aligned (each match takes a whole one); its text when it is a key, else "".
_KEY_OR_STRING = re.compile(r'"([^"]*)"\s*:|"[^"]*"')
_HUGE_EXPONENT = re.compile(r"[eE]\+?0*(?:1[6-9]|[2-9][0-9]|[1-9][0-9]{2,})")
_BRACKETS_ONLY = {code: None for code in range(128) if chr(code) not in "[]{}"}
_BEYOND_LATIN_1 = re.compile("[^\x00-\xff]")
_BEYOND_BMP = re.compile("[\U00010000-\U0010ffff]")
_ESCAPED_BEYOND_LATIN_1 = re.compile(r"\\u(?:0[1-9a-fA-F]|[1-9a-fA-F])")
_ESCAPED_SURROGATE = re.compile(r"\\u[dD][89abAB]")
#: Distinct keys counted, at most one per this many bytes of body (the set of them is kept while
#: scanning): a body with more is costed as if every key were distinct.
_BYTES_PER_DISTINCT_KEY = 64
#: The text is scanned this many characters at a time: what a regular expression builds while
#: it scans (a list of pieces, a list of matches) stays this small, whatever the body.
_CHUNK = 1 << 16
#: The same for the quick scan, whose ``split`` makes a str of every piece between two quotes
#: (two characters and a quote: 20 bytes of objects per character at worst).
_QUICK_CHUNK = 1 << 14
#: The longest \\u escape the width patterns read past its backslash.
_LONGEST_ESCAPE = 5
#: What a chunk never ends with: a backslash, or what a number is spelled with.
_NO_END = frozenset("\\0123456789eE+-.")
_ORDINARY = re.compile(r"[^\\0-9eE+\-.]")


class InvalidPayload(ValueError):
    """The body is not a usable event; the message says why, for the 400 answer."""


class TooLarge(InvalidPayload):
    """The body's JSON would take more memory than it may (answered 413)."""


class Shape(NamedTuple):
    """What a body's text would build (``load`` checks its ``cost``)."""

    arrays: int
    objects: int
    entries: int
    commas: int
    keys: int
    key_chars: int
    strings: int
    empty_strings: int
    string_chars: int
    huge_numbers: int
    char_width: int

    @property
    def elements(self) -> int:
        """Array elements, at most: commas not between an object's entries, one per array."""
        return max(0, self.commas - self.entries + self.objects) + self.arrays

    @property
    def scalars(self) -> int:
        """Numbers, true, false and null, at most: every value that is no string or container."""
        values = self.elements + self.entries + 1 - self.strings - self.empty_strings
        return max(0, values - max(0, self.arrays + self.objects - 1))

    @property
    def cost(self) -> int:
        """Bytes of Python objects ``json.loads`` would build at most."""
        width = self.char_width
        return (
            self.arrays * _ARRAY
            + self.elements * _ELEMENT
            + self.objects * _OBJECT
            + self.entries * _ENTRY
            + self.keys * _KEY
            + self.strings * (_STRING if width == 1 else _WIDE_STRING)
            + (self.key_chars + self.string_chars) * width
            + self.scalars * _NUMBER
            + self.huge_numbers * _HUGE_NUMBER
        )


def load(text: str, size: int | None = None, *, inbound: bool = False) -> dict[str, Any]:
    """The JSON object a webhook body holds; InvalidPayload (a short reason) for anything else,
    TooLarge when parsing it would take more than MEMORY_PER_BYTE (inbound mail) or
    OUTBOUND_MEMORY_PER_BYTE times ``size`` (the body's length in bytes) in memory."""
    if size is None:
        size = len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))
    _refuse_unreadable(text, size, MEMORY_PER_BYTE if inbound else OUTBOUND_MEMORY_PER_BYTE)
    try:
        payload = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite)
    except InvalidPayload:
        raise
    except RecursionError:
        raise InvalidPayload(f"JSON nested deeper than {MAX_DEPTH} levels") from None
    except ValueError as exc:
        raise InvalidPayload(f"invalid JSON: {str(exc)[:200]}") from None
    if not isinstance(payload, dict):
        raise InvalidPayload(f"expected a JSON object, got {type(payload).__name__}")
    return payload


def _refuse_unreadable(text: str, size: int, memory_per_byte: int) -> None:
    """Refuse what nests too deep (InvalidPayload) or would take too much memory (TooLarge)."""
    quick, brackets = _quick_scan(text)
    if _deeper_than(brackets, MAX_DEPTH):
        raise InvalidPayload(f"JSON nested deeper than {MAX_DEPTH} levels")
    del brackets
    allowed = memory_per_byte * max(size, _SMALL_BODY)
    # The quick count pays for every key and every string; the exact one (a second pass over
    # the strings) only when that is over: keys repeat, and the empty string is free.
    if quick.cost <= allowed:
        return
    cost = _scan(text, size).cost
    if cost > allowed:
        raise TooLarge(
            f"JSON too dense: parsed, it could take {cost // max(size, 1)} times its size in "
            f"memory, more than the {memory_per_byte} accepted"
        )


def measure(text: str) -> Shape:
    """What ``text`` would build, at most (the estimate ``load`` checks)."""
    return _scan(text, len(text.encode("utf-8", "surrogatepass")))


def _quick_scan(text: str) -> tuple[Shape, str]:
    """What ``text`` would build at most, paying for every key and every string (keys repeat,
    and the empty string is free: ``_scan`` counts those), and its brackets outside strings in
    order (for the depth). One pass of ``str`` methods over ``_QUICK_CHUNK`` characters at a
    time: a webhook's body is mostly a few long strings (text, HTML, base64 attachments), and
    ``split`` steps over a long string at the speed of ``memchr``."""
    counts = dict.fromkeys("[{:,", 0)
    outside = strings = huge = 0
    width = _non_ascii_width(text)
    brackets: list[str] = []
    inside = False  # whether the chunk starts within a string
    start, length = 0, len(text)
    while start < length:
        end = min(start + _QUICK_CHUNK, length)
        if end < length and text[end - 1] in _NO_END:
            # Never between a backslash and the character it escapes, nor within a number
            # (its exponent is read): the chunk goes on to end with the next other character.
            other = _ORDINARY.search(text, end)
            end = other.end() if other else length
        chunk = text[start:end]
        if "\\" in chunk:
            # Every quote left delimits a string: a backslash escapes exactly the next
            # character, and str.replace pairs a run of backslashes from its left as JSON does.
            width = max(width, _escaped_width(text[start : end + _LONGEST_ESCAPE]))
            chunk = chunk.replace("\\\\", "").replace('\\"', "")
        pieces = chunk.split('"')
        quotes = len(pieces) - 1
        strings += quotes // 2 if inside else (quotes + 1) // 2  # each counted where it opens
        skeleton = "".join(pieces[1::2] if inside else pieces[::2])
        del pieces
        inside ^= quotes % 2 == 1
        outside += len(skeleton)
        for mark in counts:
            counts[mark] += skeleton.count(mark)
        huge += len(_HUGE_EXPONENT.findall(skeleton))
        brackets.append(skeleton.translate(_BRACKETS_ONLY))
        start = end
    values = max(0, strings - counts[":"])
    shape = Shape(
        arrays=counts["["],
        objects=counts["{"],
        entries=counts[":"],
        commas=counts[","],
        keys=counts[":"],
        key_chars=0,
        strings=values,
        empty_strings=0,
        string_chars=max(0, length - outside),
        huge_numbers=huge,
        char_width=width,
    )
    return shape, "".join(brackets)


def _scan(text: str, size: int) -> Shape:
    """What ``text`` would build, at most, keys that repeat and empty strings counted once."""
    # Escapes first, so that every quote left delimits a string: a backslash escapes exactly
    # the next character, and str.replace pairs a run of backslashes from its left as JSON does.
    bare = text.replace("\\\\", "").replace('\\"', "") if "\\" in text else text
    counts = dict.fromkeys("[{:,", 0)
    outside = strings = huge = all_key_chars = uncounted_keys = uncounted_key_chars = 0
    keys: set[str] = set()
    most_keys = size // _BYTES_PER_DISTINCT_KEY
    inside = False  # whether the chunk starts within a string
    for start in range(0, len(bare), _CHUNK):
        chunk = bare[start : start + _CHUNK]
        if inside:
            end = chunk.find('"')
            if end < 0:
                continue
            chunk, inside = chunk[end + 1 :], False
        skeleton = _STRING_TOKEN.sub("", chunk)
        cut = skeleton.find('"')
        if cut >= 0:  # a string that goes on in the next chunk
            skeleton, inside = skeleton[:cut], True
        outside += len(skeleton)
        colons = skeleton.count(":")
        for mark in counts:
            counts[mark] += colons if mark == ":" else skeleton.count(mark)
        huge += len(_HUGE_EXPONENT.findall(skeleton))
        # json.loads builds a key's str once however often it repeats.
        matches = _KEY_OR_STRING.findall(chunk)
        strings += len(matches)
        chars = sum(map(len, matches))
        all_key_chars += chars
        if len(keys) < most_keys:
            keys.update(matches)
        else:
            uncounted_keys += colons  # from here on, every key is costed as distinct
            uncounted_key_chars += chars
    keys.discard("")
    # The empty str is shared: an empty string value costs its reference only.
    empty_keys = text.count('"":') - text.count('\\"":')
    empty = max(0, text.count('""') - text.count('\\""') - empty_keys)
    values = max(0, strings - counts[":"])
    return Shape(
        arrays=counts["["],
        objects=counts["{"],
        entries=counts[":"],
        commas=counts[","],
        keys=len(keys) + uncounted_keys,
        key_chars=sum(map(len, keys)) + uncounted_key_chars,
        strings=values - min(values, empty),
        empty_strings=min(values, empty),
        string_chars=max(0, len(text) - outside - all_key_chars),
        huge_numbers=huge,
        char_width=_char_width(text),
    )


def _char_width(text: str) -> int:
    """Bytes per character of the widest str ``json.loads`` may make of ``text``."""
    width = _non_ascii_width(text)
    return max(width, _escaped_width(text)) if "\\u" in text else width


def _non_ascii_width(text: str) -> int:
    """Bytes per character of the widest character ``text`` spells as itself."""
    if text.isascii() or _BEYOND_LATIN_1.search(text) is None:
        return 1
    return 4 if _BEYOND_BMP.search(text) else 2


def _escaped_width(text: str) -> int:
    """Bytes per character of the widest character ``text`` spells as a \\u escape."""
    if _ESCAPED_SURROGATE.search(text):
        return 4
    return 2 if _ESCAPED_BEYOND_LATIN_1.search(text) else 1


def _deeper_than(brackets: str, limit: int) -> bool:
    """Whether the brackets nest deeper than ``limit``. Each pass removes the innermost pairs,
    one level (a removed pair leaves a 0 until the pass ends, so that ``{[]}`` takes two
    passes): at most ``limit + 1`` passes, each linear."""
    for _ in range(limit + 1):
        if not brackets:
            return False
        fewer = brackets.replace("[]", "0").replace("{}", "0").replace("0", "")
        if len(fewer) == len(brackets):
            # Unbalanced, not JSON: json.loads will say so, after descending into any run of
            # opening brackets, so a run longer than the limit counts as too deep.
            return re.search(rf"[\[{{]{{{limit + 1}}}", brackets) is not None
        brackets = fewer
    return True


def _refuse_constant(name: str) -> Any:
    raise InvalidPayload(f"invalid JSON: {name} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        # 1e999 would read as inf, which no database's JSON column stores.
        raise InvalidPayload(f"invalid JSON: number out of range: {text[:40]}")
    return value
