"""``postmark_recover_events``: the events of an outage (the site unreachable longer than
Postmark retries) rebuilt from the Messages API, stored once each, with their webhooks' fields;
the real webhook arriving before or after changes nothing."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.core.mail import EmailMessage
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from postmark import events
from postmark.models import Bounce, Message, Suppression, WebhookEvent
from postmark.operations.recover_events import RECOVERED_FROM, RECOVERED_MISSING
from postmark.sandbox import Sandbox
from tests.support.webhook_helpers import post

pytestmark = pytest.mark.django_db

ALICE, BOB = "alice@example.com", "bob@example.com"
HARD = "hardbounce@bounce-testing.postmarkapp.com"
COMPLAINT = "spamcomplaint@bounce-testing.postmarkapp.com"


def outage(sandbox: Sandbox) -> list[dict[str, Any]]:
    """Mail sent while the site cannot be reached (the sandbox posts no webhook: every retry
    spent), read, clicked, bounced, complained of, unsubscribed from; every webhook payload that
    never arrived, as Postmark would have posted it."""
    mail = EmailMessage("Hello", "Hi", "shop@example.com", [ALICE, BOB])
    mail.metadata = {"order": "42"}  # type: ignore[attr-defined]
    mail.tag = "welcome"  # type: ignore[attr-defined]
    mail.send()
    EmailMessage("Hello", "Hi", "shop@example.com", [HARD]).send()
    EmailMessage("Hello", "Hi", "shop@example.com", [COMPLAINT]).send()
    message_id = mail.postmark.message_id  # type: ignore[attr-defined]
    sandbox.events.open(message_id, ALICE)
    sandbox.events.click(message_id, "https://example.com/a", ALICE)
    sandbox.events.click(message_id, "https://example.com/b", BOB)
    sandbox.events.unsubscribe(message_id, BOB)
    return list(sandbox.events.payloads)


def recover(*args: str) -> str:
    out = io.StringIO()
    since = (timezone.now() - timedelta(hours=12)).isoformat()
    call_command("postmark_recover_events", "--since", since, *args, stdout=out)
    return out.getvalue()


def stored(payload: dict[str, Any]) -> WebhookEvent:
    return WebhookEvent.objects.get(event_key=events.event_key(events.parse(payload)))


def snapshot() -> list[Any]:
    return [
        sorted(WebhookEvent.objects.values_list("event_key", "body", "status", "attempts")),
        sorted(Bounce.objects.values_list("postmark_id", "inactive", "updated_at")),
        sorted(Suppression.objects.values_list("email", "message_stream", "lifted_at")),
        sorted(Message.objects.values_list("pk", "status", "updated_at")),
    ]


def test_every_event_of_the_outage_is_recovered_once_with_its_webhooks_fields(
    postmark_sandbox: Sandbox,
) -> None:
    missed = outage(postmark_sandbox)
    assert not WebhookEvent.objects.exists()  # the site heard nothing

    output = recover()

    kinds = sorted(p["RecordType"] for p in missed)
    assert kinds == sorted(WebhookEvent.objects.values_list("record_type", flat=True))
    assert "events: 3 messages read, 8 events recovered" in output, output
    for payload in missed:
        row = stored(payload)
        body = json.loads(row.body)
        assert {k: body.get(k) for k in payload} == payload, payload["RecordType"]
        assert row.headers[RECOVERED_FROM].startswith("Messages API")
        assert RECOVERED_MISSING not in row.headers
        assert row.status == WebhookEvent.Status.PROCESSED
    # The same receivers as the webhooks': the rows move on as if the webhooks had come.
    assert Bounce.objects.filter(email__in=[HARD, COMPLAINT]).count() == 2
    assert Suppression.objects.active().filter(email=BOB).exists()
    assert Message.objects.filter(status=Message.Status.BOUNCED).count() == 1


@pytest.mark.parametrize(
    "sent",
    [datetime(2026, 7, 1, 12, 0, tzinfo=UTC), datetime(2026, 1, 15, 12, 0, tzinfo=UTC)],
    ids=["daylight-time", "standard-time"],
)
def test_a_message_sent_in_the_last_minutes_of_the_range_is_recovered_all_year(
    postmark_sandbox: Sandbox, sent: datetime
) -> None:
    EmailMessage("Hello", "Hi", "shop@example.com", [ALICE]).send()
    [message] = postmark_sandbox.messages
    message.submitted_at = sent  # as if sent then: Postmark reads search dates as Eastern time
    out = io.StringIO()
    since, until = sent - timedelta(hours=12), sent + timedelta(minutes=5)
    call_command(
        "postmark_recover_events", "--since", since.isoformat(), "--until", until.isoformat(),
        stdout=out,
    )  # fmt: skip
    assert "events: 1 messages read, 1 events recovered" in out.getvalue(), out.getvalue()
    assert WebhookEvent.objects.get().record_type == "Delivery"


def test_a_second_recovery_stores_nothing_more(postmark_sandbox: Sandbox) -> None:
    outage(postmark_sandbox)
    recover()
    before = snapshot()
    assert "0 events recovered, 8 already stored" in recover()
    assert snapshot() == before


def test_the_real_webhooks_after_recovery_change_nothing(postmark_sandbox: Sandbox) -> None:
    missed = outage(postmark_sandbox)
    recover()
    before = snapshot()
    for payload in missed:
        answer = post(Client(), payload)
        assert answer.status_code == 200 and answer.content.decode().strip() == "duplicate"
    assert snapshot() == before


def test_webhooks_that_arrived_before_the_recovery_are_not_stored_again(
    postmark_sandbox: Sandbox,
) -> None:
    missed = outage(postmark_sandbox)
    arrived = missed[::2]
    for payload in arrived:
        assert post(Client(), payload).status_code == 200
    bodies = {stored(payload).pk: stored(payload).body for payload in arrived}

    output = recover()

    assert f"{len(missed) - len(arrived)} events recovered" in output
    assert f"{len(arrived)} already stored" in output
    assert WebhookEvent.objects.count() == len(missed)
    # Those the webhooks brought keep their own bodies, and no recovery mark.
    for pk, body in bodies.items():
        row = WebhookEvent.objects.get(pk=pk)
        assert row.body == body and RECOVERED_FROM not in row.headers
