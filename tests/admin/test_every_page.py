"""Every admin page of the app, found through the admin's own URLs (a page added later is walked
too), renders for a superuser; and every template the package ships is rendered by one of them.
``make test-wheel`` runs this against the installed wheel: a template the wheel lacks fails here
as it would fail a new user's admin."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from django.apps import apps
from django.contrib import admin
from django.db.models import Model
from django.test import Client
from django.urls import reverse

import postmark
from postmark.models import (
    Bounce,
    DataRemoval,
    InboundMessage,
    Message,
    Overview,
    QueuedBatch,
    Suppression,
    WebhookEvent,
)
from tests.support import webhook_payloads as payloads
from tests.support.admin_urls import page_url
from tests.support.webhook_helpers import INBOUND_URL, post

pytestmark = pytest.mark.django_db


def one_row_of_each(client: Client) -> dict[type[Model], Model]:
    message = Message.objects.create(
        message_id=payloads.MESSAGE_ID, status="sent", from_email="a@example.com", to="j@x.com"
    )
    post(client, payloads.bounce())  # a bounce, its suppression and its webhook event
    bounce_event = WebhookEvent.objects.get()
    post(client, payloads.inbound(), INBOUND_URL)  # inbound mail, an attachment with it
    return {
        Message: message,
        Overview: Overview.objects.get(pk=message.pk),
        Bounce: Bounce.objects.get(),
        Suppression: Suppression.objects.get(),
        WebhookEvent: bounce_event,
        QueuedBatch: QueuedBatch.objects.create(id=uuid.uuid4(), state="sent", messages=[{}]),
        DataRemoval: DataRemoval.objects.create(email_sha256="0" * 64, status="Pending"),
        InboundMessage: InboundMessage.objects.get(),
    }


def admin_pages(rows: dict[type[Model], Model]) -> dict[str, str]:
    """URL -> its name, for the admin's index, the app's index and every named URL of each of
    the app's model admins (the object's pages with that model's row, its first attachment)."""
    pages = {reverse("admin:index"): "index"}
    pages[reverse("admin:app_list", kwargs={"app_label": "postmark"})] = "app_list"
    for model in apps.get_app_config("postmark").get_models():
        if not admin.site.is_registered(model):
            continue
        assert model in rows, f"no {model.__name__} row to open its admin pages with: add one"
        for pattern in admin.site.get_model_admin(model).get_urls():
            if pattern.name is None:
                continue  # the bare <object_id>/, a redirect to the change page
            pages[page_url(pattern, rows[model].pk)] = pattern.name
    return pages


def test_every_admin_page_renders_and_every_shipped_template_is_used(
    client: Client, admin_client: Client
) -> None:
    pages = admin_pages(one_row_of_each(client))
    rendered: set[str] = set()
    answers: dict[str, int] = {}
    for url, name in pages.items():
        # The test client re-raises a view's exception: TemplateDoesNotExist fails here.
        response = admin_client.get(url)
        answers[name] = response.status_code
        rendered.update(template.name for template in response.templates if template.name)
    # 403: adding or changing a record that Postmark owns (read-only by design).
    assert {name: code for name, code in answers.items() if code not in (200, 302, 403)} == {}
    assert all(answers[name] == 200 for name in answers if name.endswith("_changelist"))
    assert answers["postmark_suppression_suppress"] == 200
    assert answers["postmark_inboundmessage_change"] == 200
    assert answers["postmark_inboundmessage_attachment"] == 200
    templates = Path(postmark.__file__).parent / "templates"
    shipped = {path.relative_to(templates).as_posix() for path in templates.rglob("*.html")}
    assert shipped, f"no template under {templates}"
    assert shipped - rendered == set()
