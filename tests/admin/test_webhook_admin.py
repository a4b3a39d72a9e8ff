"""The admin pages for webhooks: they render, filter, search, and reprocess failed events."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.test import Client

from postmark import signals
from postmark.models import Bounce, Message, WebhookEvent
from tests.support import webhook_payloads as payloads
from tests.support.webhook_helpers import failing_receiver, post

pytestmark = pytest.mark.django_db


@pytest.fixture
def received(client: Client) -> None:
    Message.objects.create(
        message_id=payloads.MESSAGE_ID, status="sent", from_email="a@example.com", to="b@x.org"
    )
    Message.objects.create(status="failed", from_email="a@example.com", to="c@x.org")
    post(client, payloads.bounce())
    post(client, payloads.spam_complaint())
    post(client, payloads.delivery())
    post(client, {"RecordType": "Teleport"})
    post(client, {"no": "RecordType"})


@pytest.mark.parametrize(
    "url",
    [
        "/admin/postmark/bounce/",
        "/admin/postmark/bounce/?type=HardBounce&inactive__exact=1&message_stream=outbound",
        "/admin/postmark/bounce/?q=john@example.com",
        f"/admin/postmark/bounce/?q={payloads.MESSAGE_ID}",
        "/admin/postmark/bounce/?q=4323372036854775807",
        "/admin/postmark/bounce/?q=not-a-number",
        "/admin/postmark/suppression/",
        "/admin/postmark/suppression/?q=john",
        "/admin/postmark/suppression/?in_force=yes",
        "/admin/postmark/webhookevent/",
        "/admin/postmark/webhookevent/?status=rejected",
        f"/admin/postmark/webhookevent/?q={payloads.MESSAGE_ID}",
    ],
)
def test_admin_lists_render(admin_client: Client, received: None, url: str) -> None:
    response = admin_client.get(url)

    assert response.status_code == 200
    assert b"0 results" not in response.content or "q=not-a-number" in url


def test_suppressions_are_filtered_by_whether_they_are_in_force(
    admin_client: Client, received: None
) -> None:
    lift = payloads.subscription_change(
        Recipient="john@example.com", SuppressSending=False, ChangedAt="2026-11-28T00:00:00Z"
    )
    post(admin_client, lift)
    post(admin_client, payloads.subscription_change())  # jane, suppressed

    in_force = admin_client.get("/admin/postmark/suppression/?in_force=yes").content.decode()
    lifted = admin_client.get("/admin/postmark/suppression/?in_force=no").content.decode()

    assert "jane@example.com" in in_force and "john@example.com" not in in_force
    assert "john@example.com" in lifted and "jane@example.com" not in lifted


def test_a_bounce_is_found_by_address_and_by_message_id(
    admin_client: Client, received: None
) -> None:
    by_address = admin_client.get("/admin/postmark/bounce/?q=john@example.com")
    by_message = admin_client.get(f"/admin/postmark/bounce/?q={payloads.MESSAGE_ID[:8]}")

    assert by_address.context["cl"].result_count == 2
    assert by_message.context["cl"].result_count == 2


def test_a_message_page_shows_its_bounces_and_events(admin_client: Client, received: None) -> None:
    message = Message.objects.get(message_id=payloads.MESSAGE_ID)
    other = Message.objects.get(status="failed")

    page = admin_client.get(f"/admin/postmark/message/{message.pk}/change/")
    no_id = admin_client.get(f"/admin/postmark/message/{other.pk}/change/")

    assert page.status_code == 200
    formsets = {f.opts.model: f for f in page.context["inline_admin_formsets"]}
    assert len(formsets[Bounce].formset.queryset) == 2
    assert len(formsets[WebhookEvent].formset.queryset) == 3
    # A message Postmark never accepted has no MessageID, so no events, whatever else is stored.
    counts = [len(f.formset.queryset) for f in no_id.context["inline_admin_formsets"]]
    assert counts == [0, 0]


def test_a_webhook_event_page_is_read_only(admin_client: Client, received: None) -> None:
    row = WebhookEvent.objects.filter(record_type="Bounce").get()

    response = admin_client.get(f"/admin/postmark/webhookevent/{row.pk}/change/")

    assert response.status_code == 200
    assert b'name="_save"' not in response.content


@pytest.fixture
def broken() -> Iterator[list[int]]:
    with failing_receiver(signals.delivery_received, "broken for now") as mended:
        yield mended


def test_the_reprocess_action_processes_failed_events(
    admin_client: Client, client: Client, broken: list[int]
) -> None:
    assert post(client, payloads.delivery()).status_code == 500
    assert post(client, payloads.bounce()).status_code == 200
    broken.append(1)

    response = admin_client.post(
        "/admin/postmark/webhookevent/",
        {
            "action": "reprocess",
            "_selected_action": list(WebhookEvent.objects.values_list("pk", flat=True)),
        },
        follow=True,
    )

    assert response.status_code == 200
    assert "1 processed, 1 already processed." in [str(m) for m in response.context["messages"]]
    assert set(WebhookEvent.objects.values_list("status", flat=True)) == {"processed"}


def test_the_reprocess_action_reports_what_still_fails(
    admin_client: Client, client: Client, broken: list[int]
) -> None:
    post(client, payloads.delivery())

    response = admin_client.post(
        "/admin/postmark/webhookevent/",
        {"action": "reprocess", "_selected_action": [WebhookEvent.objects.get().pk]},
        follow=True,
    )

    texts = [str(m) for m in response.context["messages"]]
    assert any("RuntimeError: broken for now" in text for text in texts)
    assert WebhookEvent.objects.get().attempts == 2
