"""Memory per webhook request: within a stated multiple of the body, whatever JSON it holds.

``json.loads`` builds a whole body at once, and what it builds may weigh dozens of times the
text (a 512 KB bounce of empty lists took 37 MB). The views refuse, before parsing, a body whose
parse would take more than ``MEMORY_PER_BYTE`` times its size (413) or that nests too deep
(400); what they accept, they handle within ``REQUEST_MEMORY_PER_BYTE`` times its size. These
tests measure it with tracemalloc, for generated hostile shapes.
"""

from __future__ import annotations

import json
import tracemalloc
from collections.abc import Callable
from itertools import cycle
from typing import Any, NamedTuple

import pytest
from django.http import HttpResponse
from django.test import Client, RequestFactory
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from postmark import events
from postmark.models import WebhookEvent
from postmark.webhooks.views import inbound_hook, outbound_hook
from tests.support import webhook_payloads as payloads
from tests.support.webhook_helpers import AUTH, BOUNCE_URL, INBOUND_URL

pytestmark = pytest.mark.django_db

SIZE = 256 * 1024
#: The multiple docs/webhooks.rst states (postmark.events.body.REQUEST_MEMORY_PER_BYTE).
MULTIPLE = 24


def peak_of(call: Callable[[], Any]) -> tuple[Any, int]:
    """What ``call`` returns, and the most memory it held at once beyond what was there."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        result = call()
        return result, tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()


def handle(body: bytes, *, inbound: bool) -> tuple[HttpResponse, int]:
    """The view's answer to ``body``, and the memory it held at its peak (the request, body
    included, is built before)."""
    url, view = (INBOUND_URL, inbound_hook) if inbound else (BOUNCE_URL, outbound_hook)
    request = RequestFactory().post(
        url, body, content_type="application/json", HTTP_AUTHORIZATION=AUTH
    )
    response: HttpResponse
    response, peak = peak_of(lambda: view(request))
    return response, peak


@pytest.fixture(autouse=True)
def warm(db: None) -> None:
    # The first request of a process fills caches (URLs, SQL, the app's field plans): not what
    # a request costs.
    handle(json.dumps(payloads.bounce(ID=1)).encode(), inbound=False)
    handle(json.dumps(payloads.inbound(MessageID="warm")).encode(), inbound=True)
    WebhookEvent.objects.all().delete()


# --- What a body may hold -------------------------------------------------------------------------

NON_LATIN = "\u0100\u4e2d\U0001f600\ud7ff"
short_strings = st.text(alphabet=st.sampled_from('ab"\\\n\x00' + NON_LATIN), max_size=3)


def nested(depth: int, kind: str) -> str:
    opening, closing = ('{"k":', "}") if kind == "object" else ("[", "]")
    return opening * depth + "0" + closing * depth


#: One value of a hostile shape, as JSON text (each is repeated to fill the body).
units = st.one_of(
    st.sampled_from(["[]", "{}", "[[]]", "[{}]", '{"a":[]}', "null", "0", "true"]),
    st.builds(nested, st.integers(1, events.MAX_DEPTH - 4), st.sampled_from(["array", "object"])),
    short_strings.map(lambda s: json.dumps(s, ensure_ascii=False)),
    short_strings.map(json.dumps),  # the same, \\u-escaped
    st.integers(-(10**12), 10**12).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(json.dumps),
    st.lists(st.integers(0, 300).map(str), min_size=1, max_size=4).map(
        lambda items: "[" + ",".join(items) + "]"
    ),
    short_strings.map(lambda s: '{"Name":' + json.dumps(s) + ',"Value":""}'),
)


class Recipe(NamedTuple):
    """A body of about SIZE bytes, most of it one field filled with repeated generated values
    (a short description, for Hypothesis to print)."""

    inbound: bool
    field: str
    values: tuple[str, ...]
    as_object: bool
    key_length: int
    repeat_keys: bool

    def body(self) -> bytes:
        payload = payloads.inbound() if self.inbound else payloads.bounce()
        payload[self.field] = None
        text = json.dumps(payload)
        values, items, total = cycle(self.values), [], len(text)
        while total < SIZE:
            item = next(values)
            if self.as_object:
                key = "k" if self.repeat_keys else str(len(items))
                item = json.dumps(key.rjust(self.key_length, "x")) + ":" + item
            items.append(item)
            total += len(item) + 1
        shape = ("{%s}" if self.as_object else "[%s]") % ",".join(items)
        return text.replace(f'"{self.field}": null', f'"{self.field}": {shape}').encode()


@st.composite
def recipes(draw: st.DrawFn) -> Recipe:
    inbound = draw(st.booleans())
    fields = ["Headers", "ToFull", "Extra"] if inbound else ["Metadata", "Details", "Extra"]
    return Recipe(
        inbound=inbound,
        field=draw(st.sampled_from(fields)),
        values=tuple(draw(st.lists(units, min_size=1, max_size=4))),
        as_object=draw(st.booleans()),
        key_length=draw(st.sampled_from([1, 2, 8, 64])),
        repeat_keys=draw(st.booleans()),
    )


# The costliest shapes found by a sweep of every unit, field and key length.
@example(Recipe(False, "Metadata", ('""',), True, 1, False))  # Metadata stored again as JSON
@example(Recipe(False, "Metadata", ("1e308",), True, 8, False))  # stored as a 309-digit int
@example(Recipe(True, "ToFull", ('"\U0001f600"',), False, 1, False))  # astral: 4-byte chars
@example(Recipe(True, "Headers", ('{"Name":"ab","Value":""}',), False, 8, False))
@settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(recipes())
def test_a_request_holds_at_most_the_stated_multiple_of_its_body(recipe: Recipe) -> None:
    body = recipe.body()
    WebhookEvent.objects.all().delete()

    response, peak = handle(body, inbound=recipe.inbound)

    assert response.status_code in (200, 400, 413), response.content
    assert peak <= MULTIPLE * len(body), peak / len(body)
    if response.status_code != 200:
        reason = response.content.decode()
        assert reason.endswith("\n") and "\n" not in reason[:-1] and len(reason) < 200
        assert not WebhookEvent.objects.exists()  # refused before anything is stored


def test_a_bounce_whose_metadata_is_empty_lists_is_refused_before_parsing(client: Client) -> None:
    payload = payloads.bounce(Metadata=None)
    text = json.dumps(payload)
    lists = ",".join(["[]"] * ((512 * 1024 - len(text)) // 3))
    body = text.replace('"Metadata": null', f'"Metadata": [{lists}]').encode()

    response, peak = handle(body, inbound=False)

    assert response.status_code == 413
    assert response.content.startswith(b"JSON too dense")
    assert peak <= MULTIPLE * len(body)
    assert not WebhookEvent.objects.exists()


def test_ten_thousand_inbound_addresses_are_taken_within_the_multiple() -> None:
    # A real shape at its densest: short addresses, empty names (427 KB for 10,000).
    addresses = [
        {"Email": f"u{number}@example.com", "Name": "", "MailboxHash": ""}
        for number in range(10_000)
    ]
    body = json.dumps(payloads.inbound(ToFull=addresses), separators=(",", ":")).encode()

    response, peak = handle(body, inbound=True)

    assert response.status_code == 200
    assert peak <= MULTIPLE * len(body)


# --- The estimate ------------------------------------------------------------------------------

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=6),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=6), st.dictionaries(st.text(max_size=4), inner, max_size=6)
    ),
    max_leaves=40,
)


@given(st.lists(json_values, min_size=1, max_size=30), st.booleans())
def test_the_estimate_is_at_least_what_parsing_takes(values: list[Any], ascii_only: bool) -> None:
    from postmark.events.body import measure

    # Repeated, so that what json.loads sets up once (its scanner, its key memo) weighs little.
    text = json.dumps(values * 200, ensure_ascii=ascii_only)

    _, peak = peak_of(lambda: json.loads(text))

    assert peak <= measure(text).cost + 4096


@given(st.lists(json_values, min_size=1, max_size=30), st.booleans(), st.integers(0, 400))
def test_a_long_body_is_refused_as_too_dense_exactly_when_its_estimate_is_over(
    values: list[Any], ascii_only: bool, shift: int
) -> None:
    from postmark.events.body import measure

    # A long body is read a part at a time: whatever falls across a cut counts all the same.
    copies = 40_000 // len(json.dumps(values)) + 1
    text = json.dumps({"pad": "p" * shift, "values": values * copies}, ensure_ascii=ascii_only)
    size = len(text.encode("utf-8", "surrogatepass"))

    if measure(text).cost > events.MEMORY_PER_BYTE * size:
        with pytest.raises(events.TooLarge):
            events.load(text, inbound=True)
    else:
        assert events.load(text, inbound=True) == json.loads(text)


def test_the_stated_multiple_is_the_code_s() -> None:
    from postmark.events.body import REQUEST_MEMORY_PER_BYTE

    assert REQUEST_MEMORY_PER_BYTE == MULTIPLE
