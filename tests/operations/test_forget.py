"""``postmark_forget EMAIL`` and ``forget()``: every local row holding the address goes, and
Postmark is asked (with the account token) to remove its copies."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from postmark.models import Bounce, DataRemoval, Message, Suppression, WebhookEvent
from postmark.operations.forget import address_hash, forget
from postmark.sandbox import Sandbox
from tests.support import sandbox_mail
from tests.support.webhook_helpers import post

pytestmark = pytest.mark.django_db

GONE = "gone@example.com"


@pytest.fixture
def account(postmark_sandbox: Sandbox, settings: Any) -> Sandbox:
    settings.POSTMARK_ACCOUNT_TOKEN = "account-token"
    postmark_sandbox.api.account_token = "account-token"
    return postmark_sandbox


def history(sandbox: Sandbox, client: Client) -> None:
    """A bounce for GONE (seen by a webhook), and mail to an address that merely contains it."""
    sandbox_mail.bounce([GONE])
    [bounce] = sandbox.bounces
    assert post(client, bounce.as_json(sandbox.state.server_id)).status_code == 200
    Message.objects.create(status="sent", from_email="a@x.com", to=f"Other <a{GONE}>, b@x.com")


def test_forget_erases_every_local_row_holding_the_address(
    account: Sandbox, client: Client
) -> None:
    history(account, client)
    assert Suppression.objects.filter(email=GONE).exists()

    out = io.StringIO()
    call_command("postmark_forget", GONE.upper(), stdout=out)

    assert not Bounce.objects.exists() and not Suppression.objects.exists()
    assert not WebhookEvent.objects.exists()
    assert list(Message.objects.values_list("to", flat=True)) == [f"Other <a{GONE}>, b@x.com"]
    assert "Erased 1 webhook events, 1 bounces, 1 messages, 1 suppressions." in out.getvalue()
    removal = DataRemoval.objects.get()
    assert (removal.status, removal.email_sha256) == ("Pending", address_hash(GONE))
    assert GONE not in str(DataRemoval.objects.values().get())  # the record keeps no address


def test_status_asks_postmark_and_postmark_removes_its_copies(
    account: Sandbox, client: Client
) -> None:
    history(account, client)
    call_command("postmark_forget", GONE, stdout=io.StringIO())
    out = io.StringIO()
    call_command("postmark_forget", "--status", stdout=out)
    removal = DataRemoval.objects.get()
    assert f"Data removal {removal.postmark_id}: Done" in out.getvalue()
    assert removal.status == "Done" and removal.checked_at is not None
    assert not account.bounces and not account.suppressions


def test_keep_suppression_keeps_the_address_unmailable(account: Sandbox, client: Client) -> None:
    history(account, client)
    forgotten = forget(GONE, keep_suppressions=True)
    assert "suppressions" not in forgotten.erased
    assert Suppression.objects.active().filter(email=GONE).exists()


def test_without_an_account_token_only_local_rows_are_erased(postmark_sandbox: Sandbox) -> None:
    Bounce.objects.create(postmark_id=1, type="HardBounce", email=GONE, bounced_at=timezone.now())
    forgotten = forget(GONE)
    assert forgotten.removal.status == DataRemoval.Status.LOCAL_ONLY
    assert forgotten.removal.postmark_id is None and not Bounce.objects.exists()


def test_a_refused_account_token_is_a_clear_error_after_the_local_erase(
    account: Sandbox, settings: Any
) -> None:
    settings.POSTMARK_ACCOUNT_TOKEN = "wrong"
    Bounce.objects.create(postmark_id=1, type="HardBounce", email=GONE)
    with pytest.raises(CommandError, match=r"Postmark refused the data removal: .*Account token"):
        call_command("postmark_forget", GONE)
    assert not Bounce.objects.exists()


def test_not_an_address_is_refused() -> None:
    with pytest.raises(CommandError, match="not an email address"):
        call_command("postmark_forget", "nobody")
