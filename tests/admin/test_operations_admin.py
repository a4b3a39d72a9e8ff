"""Admin actions that call Postmark (the sandbox here): reactivate, lift, suppress; each behind
its own permission, and nothing local changes for what Postmark refused."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.core.management import call_command
from django.test import Client
from hypothesis import given
from hypothesis import strategies as st

from postmark.admin.actions import SuppressForm
from postmark.models import Bounce, Suppression
from postmark.sandbox import Sandbox
from tests.support import sandbox_mail

pytestmark = pytest.mark.django_db

BOUNCES = "/admin/postmark/bounce/"
SUPPRESSIONS = "/admin/postmark/suppression/"


def staff(*codenames: str) -> Client:
    user = User.objects.create_user("staff", password="pw", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    client = Client()
    client.force_login(user)
    return client


def act(client: Client, url: str, action: str, rows: Any) -> list[str]:
    pks = list(rows.values_list("pk", flat=True))
    response = client.post(url, {"action": action, "_selected_action": pks}, follow=True)
    assert response.status_code == 200
    return [str(m) for m in response.context["messages"]]


@pytest.fixture
def bounced(postmark_sandbox: Sandbox) -> Sandbox:
    """A hard bounce and a spam complaint, in the sandbox and (after a sync) here."""
    sandbox_mail.bounce(["hard@example.com"])
    sandbox_mail.bounce(["spam@example.com"], "SpamComplaint")
    call_command("postmark_sync", stdout=io.StringIO())
    return postmark_sandbox


def test_reactivation_round_trips_and_spam_complaints_are_refused_with_postmarks_reason(
    bounced: Sandbox,
) -> None:
    client = staff("view_bounce", "reactivate_bounce")
    texts = act(client, BOUNCES, "reactivate", Bounce.objects.all())

    assert any(t.startswith("Reactivated in Postmark: hard@example.com") for t in texts)
    [refused] = [t for t in texts if t.startswith("Postmark refused")]
    assert "spam@example.com" in refused and "cannot be activated" in refused
    hard = Bounce.objects.get(email="hard@example.com")
    assert hard.inactive is False
    assert not Suppression.objects.active().filter(email="hard@example.com").exists()
    assert not bounced.state.is_suppressed("hard@example.com", "outbound")
    # Refused: nothing changed here.
    assert Bounce.objects.get(email="spam@example.com").inactive is True
    assert Suppression.objects.active().filter(email="spam@example.com").exists()


def test_reactivation_needs_its_own_permission_not_just_change(bounced: Sandbox) -> None:
    client = staff("view_bounce", "change_bounce")
    page = client.get(BOUNCES)
    assert b'value="reactivate"' not in page.content
    texts = act(client, BOUNCES, "reactivate", Bounce.objects.all())
    assert not any("Reactivated" in t for t in texts)
    assert bounced.state.is_suppressed("hard@example.com", "outbound")


def test_lift_round_trips_and_a_refused_lift_changes_nothing(bounced: Sandbox) -> None:
    client = staff("view_suppression", "lift_suppression")
    texts = act(client, SUPPRESSIONS, "lift", Suppression.objects.all())

    assert "Lifted in Postmark: hard@example.com on outbound." in texts
    assert any(
        t.startswith("Postmark refused spam@example.com on outbound: You do not have")
        for t in texts
    )
    assert list(Suppression.objects.active().values_list("email", flat=True)) == [
        "spam@example.com"
    ]
    assert not bounced.state.is_suppressed("hard@example.com", "outbound")


def test_lift_needs_its_permission(bounced: Sandbox) -> None:
    client = staff("view_suppression", "change_suppression")
    act(client, SUPPRESSIONS, "lift", Suppression.objects.all())
    assert Suppression.objects.active().count() == 2


def test_manual_suppression_form_suppresses_in_postmark_then_here(
    postmark_sandbox: Sandbox,
) -> None:
    client = staff("view_suppression", "suppress_address")
    assert b'id="suppress-link"' in client.get(SUPPRESSIONS).content
    response = client.post(
        SUPPRESSIONS + "suppress/",
        {"addresses": "A@example.com,\nb@example.com", "message_stream": "broadcast"},
        follow=True,
    )
    texts = [str(m) for m in response.context["messages"]]
    assert texts == [
        "Suppressed in Postmark: a@example.com on broadcast, b@example.com on broadcast."
    ]
    rows = Suppression.objects.active().order_by("email")
    assert [(r.email, r.message_stream, r.reason) for r in rows] == [
        ("a@example.com", "broadcast", "ManualSuppression"),
        ("b@example.com", "broadcast", "ManualSuppression"),
    ]
    assert postmark_sandbox.state.is_suppressed("a@example.com", "broadcast")


def test_manual_suppression_refused_by_postmark_records_nothing(postmark_sandbox: Sandbox) -> None:
    client = staff("view_suppression", "suppress_address")
    response = client.post(
        SUPPRESSIONS + "suppress/",
        {"addresses": "a@example.com", "message_stream": "nope"},
        follow=True,
    )
    [text] = [str(m) for m in response.context["messages"]]
    assert text.startswith("Postmark refused a@example.com on nope: ") and "not found" in text
    assert not Suppression.objects.exists()


def test_suppress_form_needs_its_permission(postmark_sandbox: Sandbox) -> None:
    client = staff("view_suppression", "add_suppression")
    assert b'id="suppress-link"' not in client.get(SUPPRESSIONS).content
    assert client.get(SUPPRESSIONS + "suppress/").status_code == 403


@given(st.text(max_size=40))
def test_suppress_form_accepts_only_email_addresses(text: str) -> None:
    form = SuppressForm({"addresses": text, "message_stream": "outbound"})
    if form.is_valid():
        assert all("@" in address for address in form.cleaned_data["addresses"])
    else:
        assert "addresses" in form.errors
