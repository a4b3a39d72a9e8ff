"""Every query parameter of every admin page of the app, given a hostile value (NUL, any
Unicode, numbers past 64 bits, years Python's dates cannot hold, stray quotes and percent
signs), answers 4xx or is ignored: never a 500. On SQLite and on PostgreSQL
(``POSTMARK_TEST_DATABASE=postgres``), which refuses NUL in any query.

The pages and the parameters they read come from the admin site's registry: each list's filters
and date hierarchy, search, ordering and paging, the popup and to-field flags, the overview's
stream and tag."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth.models import User
from django.db.models import Model
from django.test import Client, RequestFactory
from django.urls import URLPattern
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from postmark.models import (
    Bounce,
    DataRemoval,
    InboundMessage,
    Message,
    QueuedBatch,
    Suppression,
    WebhookEvent,
)
from tests.support.admin_urls import kept_inbound, page_url

pytestmark = pytest.mark.django_db

#: What every admin list reads besides its filters: search, ordering, page, "show all", the
#: error flag, popups, and the preserved filters of a change page.
COMMON = ["q", "o", "p", "all", "e", "_popup", "_to_field", "_changelist_filters"]


def registered() -> list[tuple[type[Model], admin.ModelAdmin]]:
    models = apps.get_app_config("postmark").get_models()
    return [(m, admin.site.get_model_admin(m)) for m in models if admin.site.is_registered(m)]


PAGES = [
    pytest.param(model, pattern, id=f"{model._meta.model_name}-{pattern.name}")
    for model, model_admin in registered()
    for pattern in model_admin.get_urls()
    if isinstance(pattern, URLPattern) and pattern.name
]

hostile = st.one_of(
    st.text(),  # any Unicode but lone surrogates, which no URL can carry
    st.text().map(lambda text: f"{text}\x00{text}"),
    st.integers().map(str),
    st.from_regex(r"-?[0-9]{1,40}", fullmatch=True),
    st.sampled_from(["9999", "10000", "0", "1e999", "NaN", "2026-13-45", "%", "%00", "'", "\\"]),
)


def setting_up() -> tuple[Client, User, dict[type[Model], Model]]:
    """The superuser's client and one row of each model (made once: no fixtures with @given)."""
    user = User.objects.filter(username="root").first() or User.objects.create_superuser("root")
    client = Client(raise_request_exception=False)
    client.force_login(user)
    now = timezone.now()
    rows: dict[type[Model], Model] = {
        Message: Message.objects.first()
        or Message.objects.create(status="sent", from_email="a@x.example", to="b@x.example"),
        Bounce: Bounce.objects.first()
        or Bounce.objects.create(postmark_id=1, type="HardBounce", email="b@x.example"),
        Suppression: Suppression.objects.first()
        or Suppression.objects.create(email="b@x.example", suppressed_at=now),
        WebhookEvent: WebhookEvent.objects.first()
        or WebhookEvent.objects.create(
            body_sha256="0" * 64, body="{}", status="failed", received_at=now
        ),
        QueuedBatch: QueuedBatch.objects.first()
        or QueuedBatch.objects.create(id=uuid.uuid4(), state="unknown"),
        DataRemoval: DataRemoval.objects.first()
        or DataRemoval.objects.create(email_sha256="1" * 64, status="LocalOnly"),
        InboundMessage: InboundMessage.objects.first()
        or kept_inbound(status="failed", error="RuntimeError: down"),
    }
    return client, user, rows


def parameters(model: type[Model], user: User) -> list[str]:
    """The query parameters the model's admin list reads."""
    model_admin = admin.site.get_model_admin(model)
    request = RequestFactory().get("/")
    request.user = user
    names = [*COMMON, "stream", "tag"]  # the overview's
    if model_admin.has_view_permission(request):
        changelist = model_admin.get_changelist_instance(request)
        names += [p for spec in changelist.filter_specs for p in spec.expected_parameters()]
        if changelist.date_hierarchy:
            names += [f"{changelist.date_hierarchy}__{part}" for part in ("year", "month", "day")]
    return names


def url_of(model: type[Model], pattern: URLPattern, rows: dict[type[Model], Model]) -> str:
    return page_url(pattern, (rows.get(model) or rows[Message]).pk)


@pytest.mark.parametrize(("model", "pattern"), PAGES)
@given(data=st.data())
def test_no_query_parameter_makes_an_admin_page_fail(
    model: type[Model], pattern: URLPattern, data: Any
) -> None:
    client, user, rows = setting_up()
    names = parameters(model, user)
    query = data.draw(
        st.dictionaries(st.sampled_from(names) | st.text(min_size=1), hostile, max_size=3)
    )
    response = client.get(url_of(model, pattern, rows), query)
    assert response.status_code < 500, (query, response.content[:500])


@pytest.mark.parametrize(
    ("url", "parameter"),
    [
        ("/admin/postmark/overview/", "stream"),  # the example (PostgreSQL: 500)
        ("/admin/postmark/overview/", "tag"),
        ("/admin/postmark/message/", "status__exact"),
        ("/admin/postmark/message/", "message_stream"),
        ("/admin/postmark/suppression/", "reason__exact"),
        ("/admin/postmark/inboundmessage/", "mailbox"),
        ("/admin/postmark/inboundmessage/", "q"),
    ],
)
def test_nul_in_a_query_is_a_400(admin_client: Client, url: str, parameter: str) -> None:
    response = admin_client.get(url, {parameter: "outbound\x00"})
    assert response.status_code == 400
    assert b"NUL" in response.content


@pytest.mark.parametrize("year", ["9999", "99999999999999999999999"])
def test_a_year_past_what_dates_hold_is_a_wrong_lookup(admin_client: Client, year: str) -> None:
    response = admin_client.get("/admin/postmark/message/", {"created_at__year": year})
    assert (response.status_code, response["Location"]) == (302, "/admin/postmark/message/?e=1")
