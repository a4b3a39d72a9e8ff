"""Recovery and the real webhooks, interleaved in any order: each event is stored once, and
whatever comes after both changes nothing (generated with Hypothesis)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from postmark.models import Bounce, Suppression, WebhookEvent
from postmark.operations.recover_events import recover_events
from postmark.sandbox import Sandbox
from tests.operations.test_recover_events import outage, snapshot, stored
from tests.support.webhook_helpers import post

pytestmark = pytest.mark.django_db

_missed: dict[int, list[dict[str, Any]]] = {}


def missed_in(sandbox: Sandbox) -> list[dict[str, Any]]:
    # One outage per sandbox: Hypothesis runs its examples against the same one.
    if id(sandbox) not in _missed:
        _missed.clear()
        _missed[id(sandbox)] = outage(sandbox)
    return _missed[id(sandbox)]


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_recovery_and_webhooks_in_any_order_store_each_event_once(
    postmark_sandbox: Sandbox, data: st.DataObject
) -> None:
    WebhookEvent.objects.all().delete()
    Bounce.objects.all().delete()
    Suppression.objects.all().delete()
    missed = missed_in(postmark_sandbox)
    since = min(m.submitted_at for m in postmark_sandbox.messages)
    until = max(m.submitted_at for m in postmark_sandbox.messages)
    # Each webhook arrives before the recovery, after it, both, or never; the recovery may run
    # twice; the order within each group is drawn too.
    steps: list[Any] = [("recover",)]
    for index in range(len(missed)):
        when = data.draw(st.sampled_from(["before", "after", "both", "never"]))
        steps += [("post", index)] * (2 if when == "both" else when != "never")
    steps += data.draw(st.sampled_from([[], [("recover",)]]))
    order = data.draw(st.permutations(steps))
    for step in order:
        if step[0] == "recover":
            recover_events(since=since, until=until)
        else:
            assert post(Client(), missed[step[1]]).status_code == 200

    assert WebhookEvent.objects.count() == len(missed)
    for payload in missed:
        assert stored(payload).status == WebhookEvent.Status.PROCESSED
    before = snapshot()
    recover_events(since=since, until=until)
    for payload in missed:
        assert post(Client(), payload).status_code == 200
    assert snapshot() == before
