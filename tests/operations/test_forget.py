"""``postmark_forget EMAIL`` and ``forget()``: every local row holding the address goes, and
Postmark is asked (with the account token) to remove its copies."""

from __future__ import annotations

import hashlib
import io
import re
from datetime import timedelta
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from postmark.models import Bounce, DataRemoval, Message, Suppression, WebhookEvent
from postmark.operations.forget import address_hash, forget
from postmark.operations.sync import sync_suppressions
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


# --- Forget, then sync: the address stays forgotten -------------------------------------------


def sync() -> str:
    out = io.StringIO()
    call_command("postmark_sync", stdout=out)
    return out.getvalue()


@pytest.mark.parametrize("asked", [True, False], ids=["removal-pending", "local-only"])
def test_a_sync_after_forget_does_not_bring_the_address_back(
    account: Sandbox, client: Client, asked: bool
) -> None:
    history(account, client)
    sandbox_mail.bounce(["stays@example.com"])
    call_command(
        "postmark_forget", GONE, *([] if asked else ["--local-only"]), stdout=io.StringIO()
    )
    assert account.bounces and account.state.is_suppressed(
        GONE, "outbound"
    )  # Postmark still has it

    output = sync()

    assert not Bounce.objects.filter(email__iexact=GONE).exists()
    assert not Suppression.objects.filter(email__iexact=GONE).exists()
    assert "bounces: 1 new, 0 updated, 0 unchanged, 1 forgotten (skipped)" in output
    assert re.search(r"suppressions: .* 1 forgotten \(skipped\)", output)
    assert Bounce.objects.get().email == "stays@example.com"  # everyone else is synced


@given(st.sampled_from([str.upper, str.title, lambda a: f"Gone <{a.upper()}>"]))
def test_the_forgotten_address_is_recognised_in_any_spelling(spelling: Any) -> None:
    for model in (Bounce, Suppression, DataRemoval):
        model.objects.all().delete()
    now = timezone.now()  # Postmark suppressed it, then the site forgot it
    entry = {"EmailAddress": GONE, "SuppressionReason": "HardBounce", "CreatedAt": now}
    forget(spelling(GONE), ask_postmark=False)
    dump = _Dump([entry])
    summary = sync_suppressions(since=now.date(), stream="outbound", client=dump)  # type: ignore[arg-type]
    assert summary.forgotten == 1 and not Suppression.objects.exists()


def test_a_bounce_after_the_forget_is_new_mail_and_is_stored(
    postmark_sandbox: Sandbox,
) -> None:
    forget(GONE, ask_postmark=False)
    sandbox_mail.bounce([GONE])
    postmark_sandbox.bounces[0].bounced_at = timezone.now() + timedelta(minutes=1)
    assert "bounces: 1 new" in sync()
    assert Bounce.objects.get().email == GONE


def test_kept_suppressions_are_still_synced(postmark_sandbox: Sandbox) -> None:
    sandbox_mail.bounce([GONE])
    forget(GONE, keep_suppressions=True, ask_postmark=False)
    Suppression.objects.all().delete()  # lost here, say: Postmark's list is the truth
    sync()
    assert Suppression.objects.active().filter(email=GONE).exists()
    assert not Bounce.objects.exists()


def test_the_record_survives_a_secret_key_rotation_and_is_not_a_plain_hash(
    postmark_sandbox: Sandbox, settings: Any
) -> None:
    sandbox_mail.bounce([GONE])
    forget(GONE, ask_postmark=False)
    stored = DataRemoval.objects.get().email_sha256
    assert stored != hashlib.sha256(GONE.encode()).hexdigest()  # keyed: not found by guessing
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "a-new-key-after-rotation"
    sync()
    assert not Bounce.objects.exists() and not Suppression.objects.exists()


def test_a_refused_removal_still_keeps_the_address_from_coming_back(
    account: Sandbox, settings: Any
) -> None:
    sandbox_mail.bounce([GONE])
    settings.POSTMARK_ACCOUNT_TOKEN = "wrong"
    with pytest.raises(CommandError):
        call_command("postmark_forget", GONE)
    sync()
    assert not Bounce.objects.exists() and not Suppression.objects.exists()


class _Dump:
    def __init__(self, dump: list[dict[str, Any]]) -> None:
        self.dump = dump

    def get_suppressions(self, stream: str, **filters: Any) -> list[dict[str, Any]]:
        return self.dump


def test_the_admin_finds_a_removal_by_the_address_typed(admin_client: Client) -> None:
    forget(GONE, ask_postmark=False)
    forget("other@example.com", ask_postmark=False)
    url = "/admin/postmark/dataremoval/"
    assert admin_client.get(url, {"q": GONE.upper()}).context["cl"].result_count == 1
    assert admin_client.get(url, {"q": "nobody@example.com"}).context["cl"].result_count == 0
