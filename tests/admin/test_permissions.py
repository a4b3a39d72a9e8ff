"""Every admin action and every admin page of the app declares the permission it needs: a staff
user without it is not offered the action (posting it anyway changes nothing and asks Postmark
nothing) and gets 403 from the page; one with it gets them.

The actions and pages are read from the admin site's registry, so that an action or a page
added later without a declared permission fails here."""

from __future__ import annotations

import uuid
from itertools import count
from typing import Any

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth.models import Permission, User
from django.db.models import Model
from django.test import Client, RequestFactory
from django.urls import URLPattern, reverse
from django.utils import timezone

from postmark.models import (
    Bounce,
    DataRemoval,
    InboundMessage,
    Message,
    QueuedBatch,
    Suppression,
    WebhookEvent,
)
from postmark.sandbox import Sandbox
from tests.support.admin_urls import kept_inbound, page_url

pytestmark = pytest.mark.django_db

_names = count()
_STANDARD_VIEWS = ("changelist", "add", "change", "delete", "history")


def registered() -> list[tuple[type[Model], admin.ModelAdmin]]:
    models = apps.get_app_config("postmark").get_models()
    return [(m, admin.site.get_model_admin(m)) for m in models if admin.site.is_registered(m)]


def request_as(user: User) -> Any:
    request = RequestFactory().get("/")
    request.user = user
    return request


SUPERUSER = User(username="root", is_superuser=True, is_staff=True, is_active=True)
ACTIONS = [
    pytest.param(model, name, id=f"{model._meta.model_name}-{name}")
    for model, model_admin in registered()
    for name in model_admin.get_actions(request_as(SUPERUSER))
]
VIEWS = [
    pytest.param(model, pattern, id=f"{model._meta.model_name}-{pattern.name}")
    for model, model_admin in registered()
    for pattern in model_admin.get_urls()
    if isinstance(pattern, URLPattern) and pattern.name
]


def staff(*permissions: Permission) -> User:
    user = User.objects.create_user(f"staff{next(_names)}", is_staff=True)
    user.user_permissions.set(permissions)
    return User.objects.get(pk=user.pk)  # no cached permissions


def logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def permissions_of(model: type[Model]) -> list[Permission]:
    return list(
        Permission.objects.filter(
            content_type__app_label="postmark", content_type__model=model._meta.model_name
        )
    )


def view_permission(model: type[Model]) -> Permission:
    return Permission.objects.get(
        content_type__app_label="postmark", codename=f"view_{model._meta.model_name}"
    )


def snapshot() -> list[list[dict[str, Any]]]:
    return [list(model.objects.order_by("pk").values()) for model, _ in registered()]


@pytest.fixture
def rows(postmark_sandbox: Sandbox) -> dict[type[Model], Model]:
    """One row of each model, for the actions to act on and the pages to show."""
    now = timezone.now()
    message = Message.objects.create(status="sent", from_email="a@x.example", to="b@x.example")
    return {
        Message: message,
        Bounce: Bounce.objects.create(
            postmark_id=1, type="HardBounce", email="b@x.example", inactive=True, can_activate=True
        ),
        Suppression: Suppression.objects.create(
            email="b@x.example", reason="HardBounce", suppressed_at=now
        ),
        WebhookEvent: WebhookEvent.objects.create(
            body_sha256="0" * 64, body="{}", status="failed", received_at=now
        ),
        QueuedBatch: QueuedBatch.objects.create(id=uuid.uuid4(), state="unknown"),
        DataRemoval: DataRemoval.objects.create(email_sha256="1" * 64, status="LocalOnly"),
        InboundMessage: kept_inbound(status="failed", error="RuntimeError: down"),
    }


def test_the_registry_lists_the_actions_and_pages() -> None:
    names = {param.values[1] for param in ACTIONS}
    assert {"reactivate", "lift", "reprocess", "reroute", "delete_selected"} <= names
    pages = {param.values[1].name for param in VIEWS}
    assert {"postmark_suppression_suppress", "postmark_inboundmessage_attachment"} <= pages


@pytest.mark.parametrize(("model", "action"), ACTIONS)
def test_an_action_is_refused_to_staff_without_its_permission(
    model: type[Model], action: str, rows: Any, api_calls: list[str]
) -> None:
    model_admin = admin.site.get_model_admin(model)
    function = model_admin.get_actions(request_as(SUPERUSER))[action][0]
    assert getattr(function, "allowed_permissions", ()), f"{action} declares no permission"
    viewer = staff(view_permission(model))
    assert action not in model_admin.get_actions(request_as(viewer))

    url = reverse(f"admin:postmark_{model._meta.model_name}_changelist")
    data = {"action": action, "_selected_action": [row.pk for row in model.objects.all()]}
    before = snapshot()
    response = logged_in(viewer).post(url, data, follow=True)
    assert response.status_code == 200
    assert {str(m) for m in response.context["messages"]} <= {"No action selected."}
    assert snapshot() == before and not api_calls


@pytest.mark.parametrize(("model", "action"), ACTIONS)
def test_an_action_is_offered_to_staff_with_its_permission(
    model: type[Model], action: str, rows: Any
) -> None:
    model_admin = admin.site.get_model_admin(model)
    view = view_permission(model)
    openers = [
        permission
        for permission in permissions_of(model)
        if action in model_admin.get_actions(request_as(staff(view, permission)))
    ]
    assert openers, f"no permission of {model.__name__} offers {action}"
    url = reverse(f"admin:postmark_{model._meta.model_name}_changelist")
    data = {"action": action, "_selected_action": [row.pk for row in model.objects.all()]}
    response = logged_in(staff(view, openers[0])).post(url, data, follow=True)
    assert response.status_code == 200
    assert "No action selected." not in [str(m) for m in response.context["messages"]]


def _url(model: type[Model], pattern: URLPattern, rows: dict[type[Model], Model]) -> str:
    row = rows.get(model) or rows[Message]  # the overview is a proxy of Message
    return page_url(pattern, row.pk)


@pytest.mark.parametrize(("model", "pattern"), VIEWS)
def test_a_page_answers_403_to_staff_without_its_permission(
    model: type[Model], pattern: URLPattern, rows: Any, api_calls: list[str]
) -> None:
    url = _url(model, pattern, rows)
    nobody = logged_in(staff())
    before = snapshot()
    assert nobody.get(url).status_code == 403
    assert nobody.post(url, {"addresses": "x@y.example", "post": "yes"}).status_code == 403
    assert snapshot() == before and not api_calls


@pytest.mark.parametrize(("model", "pattern"), VIEWS)
def test_a_page_opens_to_staff_with_its_permission(
    model: type[Model], pattern: URLPattern, rows: Any
) -> None:
    url = _url(model, pattern, rows)
    status = logged_in(User.objects.create_superuser(f"root{next(_names)}")).get(url).status_code
    if status == 403:
        return  # no one may (adding a row Postmark writes, a message as an "overview")
    assert status == 200
    viewing = [view_permission(m) for m, _ in registered()]
    # Viewing is enough, or else one more permission of the model is.
    if logged_in(staff(*viewing)).get(url).status_code == 200:
        return
    openers = [
        permission
        for permission in permissions_of(model)
        if logged_in(staff(*viewing, permission)).get(url).status_code == 200
    ]
    assert openers, f"no permission of {model.__name__} opens {pattern.name}"


def test_the_overview_permission_shows_numbers_never_a_message(rows: Any) -> None:
    client = logged_in(staff(view_permission(apps.get_model("postmark", "Overview"))))
    assert client.get(reverse("admin:postmark_overview_changelist")).status_code == 200
    message = rows[Message]
    for view in ("change", "history", "delete"):
        url = reverse(f"admin:postmark_overview_{view}", args=[message.pk])
        assert client.get(url).status_code == 403, view
