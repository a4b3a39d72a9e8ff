"""A receiver that fails: the caller gets a 500 with a fixed reason, nothing half-written
stays, the row keeps the error, and a retry or a replay processes it."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from postmark.models import Bounce, Message, Suppression, WebhookEvent
from tests.support import webhook_payloads as payloads
from tests.support.webhook_helpers import (
    post,
    sent_message,
)

pytestmark = pytest.mark.django_db


# --- failure, retry, replay ---------------------------------------------------------------------


def test_a_failing_receiver_gets_a_500_rolls_back_and_keeps_the_error(
    client: Client, broken_receiver: list[int]
) -> None:
    message = sent_message()

    response = post(client, payloads.bounce())

    assert response.status_code == 500
    assert response.content == b"a receiver failed; the error is kept on the stored event\n"
    row = WebhookEvent.objects.get()
    assert row.status == WebhookEvent.Status.FAILED
    assert row.error == "RuntimeError: the receiver is broken"
    assert "Traceback" in row.traceback and "in receiver" in row.traceback
    assert json.loads(row.body) == payloads.bounce()
    # The default receivers ran before it; their writes are rolled back with it.
    assert not Bounce.objects.exists() and not Suppression.objects.exists()
    message.refresh_from_db()
    assert message.status == Message.Status.SENT


def test_postmarks_retry_of_a_failed_event_processes_it(
    client: Client, broken_receiver: list[int]
) -> None:
    assert post(client, payloads.bounce()).status_code == 500
    assert post(client, payloads.bounce()).status_code == 500
    assert WebhookEvent.objects.get().attempts == 2

    broken_receiver.append(1)
    response = post(client, payloads.bounce())

    assert response.status_code == 200 and response.content == b"processed\n"
    row = WebhookEvent.objects.get()
    assert (row.status, row.error, row.traceback, row.attempts) == ("processed", "", "", 3)
    assert Bounce.objects.count() == 1


def test_manage_py_postmark_replay_reprocesses_failed_events(
    client: Client, broken_receiver: list[int]
) -> None:
    from io import StringIO

    from django.core.management import call_command

    post(client, payloads.bounce())
    post(client, payloads.delivery())  # processed: left alone
    broken_receiver.append(1)
    out = StringIO()

    call_command("postmark_replay", stdout=out)

    assert "1 processed, 0 failed" in out.getvalue()
    assert set(WebhookEvent.objects.values_list("status", flat=True)) == {"processed"}
    assert Bounce.objects.count() == 1


def test_a_replay_that_fails_again_keeps_the_new_error(
    client: Client, broken_receiver: list[int]
) -> None:
    from io import StringIO

    from django.core.management import call_command

    post(client, payloads.bounce())
    out = StringIO()

    with pytest.raises(SystemExit):
        call_command("postmark_replay", stdout=out, stderr=out)

    row = WebhookEvent.objects.get()
    assert row.status == "failed" and row.attempts == 2
    assert "0 processed, 1 failed" in out.getvalue()
    assert f"#{row.pk}: RuntimeError: the receiver is broken" in out.getvalue()
