"""One text rule wherever a webhook's text is kept: NUL and lone surrogates become U+FFFD in the
event's fields, as in every row storage writes (README: Databases). It used to be two rules:
the events dropped NUL and turned a lone surrogate into "?", so that "a\\x00b@x" reached the
``Bounce`` row as another valid address, "ab@x"."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase

from postmark.models import Bounce, WebhookEvent
from tests.support import webhook_payloads as payloads
from tests.support.webhook_helpers import post

#: Text with what no database stores as it is: NUL and lone surrogates among ordinary letters
#: (high ones only: JSON pairs a high surrogate with the low one after it into a character).
awkward_text = st.text(alphabet=st.sampled_from(["a", "b", "@", "é", "\x00", "\ud800"]), min_size=1)


def replaced(value: str) -> str:
    """The rule, written out plainly."""
    return "".join("\ufffd" if c == "\x00" or "\ud800" <= c <= "\udfff" else c for c in value)


class OneTextRule(TestCase):
    @given(details=awkward_text, tag=awkward_text, metadata_value=awkward_text)
    def test_the_bounce_row_keeps_text_as_the_stored_body_does(
        self, details: str, tag: str, metadata_value: str
    ) -> None:
        payload = payloads.bounce(Details=details, Tag=tag, Metadata={"k\x00": metadata_value})
        body = json.dumps(payload)  # \u0000 and \ud800 escapes, which json.loads gives back

        response = post(self.client, body)

        assert response.status_code == 200, response.content
        bounce = Bounce.objects.get()
        assert (bounce.details, bounce.tag) == (replaced(details), replaced(tag))
        assert bounce.metadata == {replaced("k\x00"): replaced(metadata_value)}
        assert WebhookEvent.objects.get().status == WebhookEvent.Status.PROCESSED
