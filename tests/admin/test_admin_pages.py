"""Admin polish: read-only records look read-only, JSON is readable, rows link to each other."""

from __future__ import annotations

import re
import uuid

import pytest
from django.contrib import admin
from django.test import Client
from django.utils import timezone

from postmark.models import Bounce, DataRemoval, Message, QueuedBatch, Suppression, WebhookEvent
from tests.support import webhook_payloads as payloads
from tests.support.webhook_helpers import post

pytestmark = pytest.mark.django_db


@pytest.fixture
def rows(client: Client) -> dict[str, object]:
    message = Message.objects.create(
        message_id=payloads.MESSAGE_ID,
        status="sent",
        from_email="a@example.com",
        to="john@example.com",
        metadata={"order": "42"},
    )
    post(client, payloads.bounce())
    return {
        "message": message,
        "bounce": Bounce.objects.get(),
        "suppression": Suppression.objects.get(),
        "webhookevent": WebhookEvent.objects.get(),
        "queuedbatch": QueuedBatch.objects.create(id=uuid.uuid4(), state="sent", messages=[{}]),
        "dataremoval": DataRemoval.objects.create(email_sha256="0" * 64, status="Pending"),
    }


@pytest.mark.parametrize(
    "model", ["message", "bounce", "suppression", "webhookevent", "queuedbatch", "dataremoval"]
)
def test_records_show_read_only_pages_titled_view(
    admin_client: Client, rows: dict[str, object], model: str
) -> None:
    row = rows[model]
    page = admin_client.get(f"/admin/postmark/{model}/{row.pk}/change/")  # type: ignore[attr-defined]
    html = page.content.decode()
    assert page.status_code == 200
    assert "<h1>View " in html and 'name="_save"' not in html and 'name="_continue"' not in html


def test_json_is_shown_formatted(admin_client: Client, rows: dict[str, object]) -> None:
    event = rows["webhookevent"]
    html = admin_client.get(f"/admin/postmark/webhookevent/{event.pk}/change/").content.decode()  # type: ignore[attr-defined]
    assert '<pre class="postmark-json"' in html and ">{\n  &quot;BouncedAt&quot;" in html
    assert html.count("&quot;BouncedAt&quot;") == 1  # not the raw one-line column as well
    message = rows["message"]
    html = admin_client.get(f"/admin/postmark/message/{message.pk}/change/").content.decode()  # type: ignore[attr-defined]
    assert ">{\n  &quot;order&quot;: &quot;42&quot;\n}</pre>" in html


def test_the_bounce_links_to_the_message_by_the_message_id_it_claims(
    admin_client: Client, rows: dict[str, object]
) -> None:
    bounce, message = rows["bounce"], rows["message"]
    html = admin_client.get(f"/admin/postmark/bounce/{bounce.pk}/change/").content.decode()  # type: ignore[attr-defined]
    link = f'<a href="/admin/postmark/message/{message.pk}/change/">{payloads.MESSAGE_ID}</a>'  # type: ignore[attr-defined]
    assert link in html
    assert "/admin/postmark/suppression/?q=john%40example.com" in html
    assert f"/admin/postmark/webhookevent/?message_id={payloads.MESSAGE_ID}" in html


def test_a_bounce_for_a_message_sent_elsewhere_says_so(admin_client: Client) -> None:
    other = uuid.uuid4()
    bounce = Bounce.objects.create(
        postmark_id=7, type="HardBounce", message_id=other, bounced_at=timezone.now()
    )
    html = admin_client.get(f"/admin/postmark/bounce/{bounce.pk}/change/").content.decode()
    assert f"{other} (not sent through this site)" in html


def test_the_message_links_to_the_suppression_it_caused(
    admin_client: Client, rows: dict[str, object]
) -> None:
    message, suppression = rows["message"], rows["suppression"]
    html = admin_client.get(f"/admin/postmark/message/{message.pk}/change/").content.decode()  # type: ignore[attr-defined]
    assert f'href="/admin/postmark/suppression/{suppression.pk}/change/"' in html  # type: ignore[attr-defined]


def test_the_webhook_event_list_filters_by_message_id(
    admin_client: Client, rows: dict[str, object]
) -> None:
    page = admin_client.get(f"/admin/postmark/webhookevent/?message_id={payloads.MESSAGE_ID}")
    assert page.status_code == 200 and page.context["cl"].result_count == 1


def test_lists_fit_a_laptop_screen() -> None:
    # Six short columns fit 1280 pixels next to the navigation and filter sidebars (the
    # browser test measures the bounce and message lists).
    for model_admin in admin.site._registry.values():
        if model_admin.opts.app_label == "postmark":
            assert len(model_admin.list_display) <= 6, model_admin


def test_labels_spell_abbreviations_one_way() -> None:
    # "ID", "HTML", "SHA-256" and whole words, as the rest of the admin writes them.
    for model in (Message, Bounce, Suppression, WebhookEvent, QueuedBatch, DataRemoval):
        for field in model._meta.fields:
            label = str(field.verbose_name)
            assert not re.search(r"\b(id|addr|html|sha256)\b", label), (model, label)
