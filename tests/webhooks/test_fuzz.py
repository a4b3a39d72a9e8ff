"""Generated webhooks through the real view: whatever arrives, the answer is 200 or a 4xx with a
one-line reason, never a 5xx; after a 200 the event is stored exactly once; after a 4xx nothing
but the rejected request's own record exists.

Payloads start from a real one of each kind and have fields replaced by generated values of every
JSON type (strings with any code point, lone surrogates included; integers of any size; floats;
nesting; wrong types), fields dropped, the RecordType changed, a non-finite number (1e999)
spliced in, or the body cut short. A receiver renders every inbound message, as a user's would.
``HYPOTHESIS_PROFILE=fuzz`` runs many more examples than the default.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase

from postmark import signals
from postmark.models import Bounce, Message, Suppression, WebhookEvent
from tests.support import webhook_payloads as payloads
from tests.support.webhook_helpers import BOUNCE_URL, EVENTS_URL, INBOUND_URL, post

KINDS = {
    "bounce": (payloads.bounce, BOUNCE_URL),
    "spam_complaint": (payloads.spam_complaint, EVENTS_URL),
    "delivery": (payloads.delivery, EVENTS_URL),
    "open": (payloads.open_, EVENTS_URL),
    "click": (payloads.click, EVENTS_URL),
    "subscription_change": (payloads.subscription_change, EVENTS_URL),
    "inbound": (payloads.inbound, INBOUND_URL),
}


def keys(value: Any) -> set[str]:
    """Every key of a payload, nested ones included (Geo's, attachments', addresses')."""
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in keys(v)}
    return set()


FIELD_NAMES = sorted(
    {key for make, _ in KINDS.values() for key in keys(make())} | {"RawEmail", "Data"}
)
RECORD_TYPES = ["Bounce", "SpamComplaint", "Delivery", "Open", "Click", "SubscriptionChange"]

any_text = st.text(st.characters(min_codepoint=0, max_codepoint=0x10FFFF, categories=None))
# Strings that look like what a field expects: numbers, UUIDs, dates, addresses, MIME.
lookalikes = st.sampled_from(
    [
        "42",
        "-1",
        "٣",
        "²",
        "--1",
        "99999999999999999999",
        payloads.MESSAGE_ID,
        "2026-11-27T10:11:12.1234567Z",
        "0001-01-01T00:00:00+14:00",
        "true",
        "Jöhn <jö@exämple.com>",
        "a\r\nBcc: x@example.com",
        "text",
        "AAEC",
        "From: a@b\r\n\r\nbody",
    ]
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    any_text,
    lookalikes,
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(FIELD_NAMES), any_text), inner, max_size=4),
    ),
    max_leaves=12,
)


def deep(levels: int) -> Any:
    value: Any = "x"
    for _ in range(levels):
        value = {"Name": value}
    return value


@st.composite
def bodies(draw: st.DrawFn) -> tuple[bytes, str]:
    """A body and the URL it is posted to."""
    make, url = KINDS[draw(st.sampled_from(sorted(KINDS)))]
    payload = make()
    # Mostly the kind's own fields, where a wrong value matters most; sometimes any field.
    field_names = st.one_of(st.sampled_from(sorted(payload)), st.sampled_from(FIELD_NAMES))
    for key in draw(st.lists(field_names, max_size=6, unique=True)):
        action = draw(st.sampled_from(["drop", "replace", "lookalike", "nest"]))
        if action == "drop":
            payload.pop(key, None)
        elif action == "replace":
            payload[key] = draw(json_values)
        elif action == "lookalike":
            payload[key] = draw(lookalikes)
        else:
            payload[key] = deep(draw(st.integers(min_value=1, max_value=800)))
    if draw(st.booleans()):
        payload["RecordType"] = draw(st.one_of(st.sampled_from(RECORD_TYPES), any_text))
    text = json.dumps(payload, ensure_ascii=draw(st.booleans()))
    if draw(st.integers(min_value=0, max_value=5)) == 0:
        # A number no float holds, where it would reach a JSON column if anywhere.
        at = '"Metadata": {' if '"Metadata": {' in text else "{"
        text = text.replace(at, at + '"Big": 1e999, ', 1)
    body = text.encode("utf-8", "surrogatepass")
    if draw(st.integers(min_value=0, max_value=9)) == 0:
        body = body[: draw(st.integers(min_value=0, max_value=len(body)))]
    return body, url


def render_inbound(event: Any, **kwargs: Any) -> None:
    event.message.message().as_bytes()


class GeneratedWebhooks(TestCase):
    def setUp(self) -> None:
        signals.inbound_received.connect(render_inbound)
        self.addCleanup(signals.inbound_received.disconnect, render_inbound)

    # Eight times the profile's count: this one test is the whole webhook surface, and fast.
    @settings(max_examples=8 * settings.default.max_examples)
    @given(bodies())
    def test_every_body_gets_200_or_a_one_line_4xx_and_is_stored_at_most_once(
        self, generated: tuple[bytes, str]
    ) -> None:
        body, url = generated

        response = post(self.client, body, url)

        status, content = response.status_code, response.content
        assert status == 200 or 400 <= status < 500, (status, content, body[:2000])
        assert response["Content-Type"].startswith("text/plain")
        assert content.endswith(b"\n") and content.count(b"\n") == 1, content
        rows = list(
            WebhookEvent.objects.filter(body_sha256=hashlib.sha256(body).hexdigest()).values_list(
                "status", flat=True
            )
        )
        if status == 200:
            assert rows in (["processed"], ["ignored"]), (rows, body[:2000])
        else:
            # Refused: at most the request's own record, and nothing any receiver writes.
            assert rows in ([], ["rejected"]), (rows, body[:2000])
            assert not Bounce.objects.exists() and not Suppression.objects.exists()
            assert not Message.objects.exists()
        assert WebhookEvent.objects.count() == len(rows)
