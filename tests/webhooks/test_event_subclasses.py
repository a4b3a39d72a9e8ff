"""A subclass of any event class ``signal_for`` accepts is processed as its base class is.

A project may route a RecordType to its own subclass (``postmark.events.EVENT_TYPES`` is a
plain table); the default receivers then find what to do along the class's MRO, never by its
name, so a subclass neither fails (the view answered 500) nor passes for another kind when its
name is another class's.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from unittest import mock

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from postmark import events, signals
from postmark.events import routing
from postmark.models import Bounce, Message, Suppression, WebhookEvent
from tests.support import webhook_payloads as payloads
from tests.support.webhook_helpers import BOUNCE_URL, INBOUND_URL, post, sent_message

pytestmark = pytest.mark.django_db

#: Each event class a signal is sent for, with a payload of its kind.
PAYLOADS: dict[type, Callable[[], dict[str, Any]]] = {
    events.BounceEvent: payloads.bounce,
    events.SpamComplaintEvent: payloads.spam_complaint,
    events.DeliveryEvent: payloads.delivery,
    events.OpenEvent: payloads.open_,
    events.ClickEvent: payloads.click,
    events.SubscriptionChangeEvent: payloads.subscription_change,
    events.InboundEvent: payloads.inbound,
}
EVENT_CLASS_NAMES = sorted(
    cls.__name__
    for cls in vars(events).values()
    if isinstance(cls, type) and "Event" in cls.__name__
)


def test_every_class_signal_for_accepts_is_tried() -> None:
    assert set(PAYLOADS) == set(signals.EVENT_SIGNALS)


def outcome(client: Client, kind: type, event_class: type | None = None) -> tuple[Any, ...]:
    """What posting a payload of ``kind`` leaves, parsed as ``event_class`` (a subclass)."""
    for model in (WebhookEvent, Message, Bounce, Suppression):
        model.objects.all().delete()
    sent_message()
    parse = routing.event_type_of

    def as_subclass(payload: Any, *, inbound: bool = False) -> type:
        found = parse(payload, inbound=inbound)
        return event_class if event_class is not None and found is kind else found

    url = INBOUND_URL if kind is events.InboundEvent else BOUNCE_URL
    with mock.patch.object(routing, "event_type_of", as_subclass):
        response = post(client, json.dumps(PAYLOADS[kind]()), url)
    return (
        response.status_code,
        response.content,
        list(WebhookEvent.objects.values_list("status", "error")),
        list(Message.objects.values("status", "delivered_at", "opened_at", "clicked_at")),
        list(Message.objects.values("bounced_at", "complained_at")),
        list(Bounce.objects.values("postmark_id", "type", "email", "inactive")),
        list(Suppression.objects.values("email", "reason", "origin", "lifted_at")),
    )


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    kind=st.sampled_from(list(PAYLOADS)),
    # Any name, the other classes' own among them (a DeliveryEvent subclass named ClickEvent).
    name=st.one_of(
        st.sampled_from(EVENT_CLASS_NAMES),
        st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,20}", fullmatch=True),
    ),
    levels=st.integers(min_value=1, max_value=3),
)
def test_a_subclass_of_an_event_class_is_processed_as_its_base(
    client: Client, kind: type, name: str, levels: int
) -> None:
    subclass = kind
    for _ in range(levels):
        subclass = type(name, (subclass,), {})
    caught: list[Any] = []

    def receiver(sender: Any, event: Any, **kwargs: Any) -> None:
        caught.append(event)

    signal = signals.EVENT_SIGNALS[kind]
    signal.connect(receiver, weak=False)
    try:
        expected = outcome(client, kind)
        caught.clear()
        got = outcome(client, kind, subclass)
    finally:
        signal.disconnect(receiver)

    assert got == expected
    assert got[0] == 200
    assert [type(event) for event in caught] == [subclass]
