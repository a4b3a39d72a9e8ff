"""``postmark_forget`` erases exactly one address's rows: generated neighbours of the address
(longer or shorter local parts, other cases, plus-addressing, another domain, a subdomain, the
address quoted in another field of someone else's row, JSON-escaped) keep every byte of theirs.

Runs on any database (``POSTMARK_TEST_DATABASE=postgres``): JSON is read differently by each,
which is why the app reads it itself."""

from __future__ import annotations

import io
import json
import uuid
from itertools import count
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from hypothesis import given
from hypothesis import strategies as st

from postmark.models import Bounce, Message, Suppression, WebhookEvent
from tests.support import webhook_payloads as payloads
from tests.support.webhook_helpers import INBOUND_URL, post

pytestmark = pytest.mark.django_db

MODELS = (Message, Bounce, Suppression, WebhookEvent)
SITE = "inbox@site.example"
_ids = count(1)

atoms = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=6)
# Local parts with what JSON encoders escape ("/" as "\/", "é" as "\u00e9") now and then.
locals_ = st.lists(st.one_of(atoms, st.sampled_from(["é", "ü"])), min_size=1, max_size=3).flatmap(
    lambda parts: st.sampled_from([".", "_", "-", "/"]).map(lambda sep: sep.join(parts))
)
domains = st.lists(atoms, min_size=1, max_size=2).map(lambda labels: ".".join([*labels, "example"]))


def neighbours_of(local: str, domain: str) -> list[str]:
    """Addresses that contain, or are contained in, or differ only slightly from the address."""
    return [
        f"x{local}@{domain}",  # a longer local part (anny@ for y@)
        f"{local}x@{domain}",
        f"{local[1:] or 'q'}@{domain}" if len(local) > 1 else f"q{local}@{domain}",
        f"{local}+news@{domain}",  # plus-addressing: another mailbox as Postmark sees it
        f"{local}@mail.{domain}",  # a subdomain
        f"{local}@{domain}.org",  # the domain as a prefix of another
        f"{local}@other{domain}",
        f"{local}@elsewhere.test",  # the same local part at another domain
        f"NO{local.upper()}@{domain.upper()}",  # another local part, other case
    ]


def escaped(body: str, address: str) -> str:
    """``body`` (JSON, ASCII) with ``address`` spelled with more escapes ("\\/", "\\u0040")."""
    encoded = json.dumps(address)[1:-1]
    return body.replace(encoded, encoded.replace("/", "\\/").replace("@", "\\u0040"))


def bounce(email: str, **changes: Any) -> dict[str, Any]:
    fields = {"ID": next(_ids), "MessageID": str(uuid.uuid4()), "Inactive": True, **changes}
    return payloads.bounce(Email=email, **fields)


def neighbour_history(client: Client, neighbour: str, target: str, escape: bool) -> None:
    """The neighbour's own rows, several quoting the target in a field that is not theirs."""
    quoted = f"Re: {target}, {target.upper()}"
    rows: list[tuple[str, dict[str, Any]]] = [
        ("/postmark/bounce/", bounce(neighbour, From=target, Subject=quoted, Details=quoted)),
        ("/postmark/bounce/", bounce(neighbour, Metadata={"user": target}, Content=quoted)),
        ("/postmark/events/", payloads.delivery(Recipient=neighbour, Details=quoted)),
        ("/postmark/events/", payloads.open_(Recipient=neighbour, Metadata={"who": target})),
        (
            INBOUND_URL,
            payloads.inbound(
                From=neighbour,
                FromFull={"Email": neighbour, "Name": "", "MailboxHash": ""},
                To=SITE,
                ToFull=[{"Email": SITE, "Name": "", "MailboxHash": ""}],
                Cc="",
                CcFull=[],
                ReplyTo=target,
                Subject=quoted,
                TextBody=f"Please write to {target}",
            ),
        ),
    ]
    for url, payload in rows:
        body = json.dumps(payload, ensure_ascii=escape)
        body = escaped(body, target) if escape else body
        assert post(client, body, url).status_code == 200
    Message.objects.create(
        status="sent",
        from_email=target,  # from the target to the neighbour: the neighbour's record
        to=neighbour,
        subject=quoted,
        metadata={"user": target},
    )
    Suppression.objects.create(
        email=neighbour.lower(), message_stream="broadcast", reason="ManualSuppression"
    )


def target_history(client: Client, given: str, escape: bool) -> None:
    """Every kind of row the target has, spelled as ``given`` (another case)."""
    rows: list[tuple[str, dict[str, Any]]] = [
        ("/postmark/bounce/", bounce(given)),
        ("/postmark/bounce/", payloads.spam_complaint(ID=next(_ids), Email=given)),
        ("/postmark/events/", payloads.delivery(Recipient=given, MessageID=str(uuid.uuid4()))),
        ("/postmark/events/", payloads.click(Recipient=given)),
        ("/postmark/events/", payloads.subscription_change(Recipient=given)),
        (INBOUND_URL, payloads.inbound(From=given, FromFull={"Email": given, "Name": "Me"})),
        (
            INBOUND_URL,
            payloads.inbound(
                Cc=f'"Someone, Else" <cc@elsewhere.test>, {given}',
                CcFull=[{"Email": "cc@elsewhere.test"}, {"Email": given}],
            ),
        ),
    ]
    for url, payload in rows:
        body = json.dumps(payload, ensure_ascii=escape)
        body = escaped(body, given) if escape else body
        assert post(client, body, url).status_code == 200
    Message.objects.create(status="sent", from_email="shop@site.example", to=f"Me <{given}>")
    Message.objects.create(status="sent", from_email="shop@site.example", to="", bcc=given)


def snapshot() -> dict[str, dict[Any, dict[str, Any]]]:
    return {model.__name__: {row["id"]: row for row in model.objects.values()} for model in MODELS}


@given(
    local=locals_,
    domain=domains,
    case=st.sampled_from([str.lower, str.upper, str.title]),
    escape=st.booleans(),
    picked=st.sets(st.integers(min_value=0, max_value=8), min_size=1, max_size=4),
)
def test_forget_erases_the_address_and_every_byte_of_its_neighbours_stays(
    local: str, domain: str, case: Any, escape: bool, picked: set[int]
) -> None:
    for model in MODELS:
        model.objects.all().delete()
    target = f"{local}@{domain}"
    every = neighbours_of(local, domain)
    neighbours = list(dict.fromkeys(every[i] for i in sorted(picked)))
    client = Client()
    for neighbour in neighbours:
        neighbour_history(client, neighbour, target, escape)
    before = snapshot()
    shared = Message.objects.create(
        status="sent",
        from_email="shop@site.example",
        to=f'"Doe, {case(local)}" <{case(target)}>, {neighbours[0]}',
        cc=f"{case(target)}, {neighbours[-1]}",
        subject="For both",
        error=f"Suppressed recipients: {target}, {neighbours[0]}.",
    )
    target_history(client, case(target), escape)

    call_command("postmark_forget", case(target), "--local-only", stdout=io.StringIO())

    after = snapshot()
    shared_after = after["Message"].pop(shared.pk)
    assert after == before  # every neighbour row, byte for byte; none of the target's
    assert shared_after["to"] == neighbours[0]
    assert shared_after["cc"] == neighbours[-1]
    assert shared_after["error"] == f"Suppressed recipients: (forgotten), {neighbours[0]}."
    assert shared_after["subject"] == "For both"


def test_the_issues_example_anny_and_noreply_keep_their_rows(client: Client) -> None:
    # y@shop.example is inside anny@shop.example and noreply@shop.example.
    for to in ("y@shop.example", "anny@shop.example", "noreply@shop.example"):
        Message.objects.create(status="sent", from_email="a@site.example", to=to)
        assert post(client, payloads.delivery(Recipient=to)).status_code == 200
        assert post(client, bounce(to)).status_code == 200
    call_command("postmark_forget", "Y@Shop.Example", "--local-only", stdout=io.StringIO())
    stay = ["anny@shop.example", "noreply@shop.example"]
    assert sorted(Message.objects.values_list("to", flat=True)) == stay
    assert sorted(Bounce.objects.values_list("email", flat=True)) == stay
    assert sorted(Suppression.objects.values_list("email", flat=True)) == stay
    assert WebhookEvent.objects.count() == 4


def test_the_bounces_of_the_other_recipients_of_a_message_stay(client: Client) -> None:
    message_id = str(uuid.uuid4())
    for email in ("gone@shop.example", "stays@shop.example"):
        assert post(client, bounce(email, MessageID=message_id)).status_code == 200
    Message.objects.create(
        message_id=message_id,
        status="bounced",
        from_email="a@site.example",
        to="gone@shop.example, stays@shop.example",
    )
    call_command("postmark_forget", "gone@shop.example", "--local-only", stdout=io.StringIO())
    assert list(Bounce.objects.values_list("email", flat=True)) == ["stays@shop.example"]
    assert list(Suppression.objects.values_list("email", flat=True)) == ["stays@shop.example"]
    assert Message.objects.get().to == "stays@shop.example"
    [event] = WebhookEvent.objects.all()
    assert json.loads(event.body)["Email"] == "stays@shop.example"


def test_an_idn_domain_is_one_address_in_either_spelling() -> None:
    Message.objects.create(status="sent", from_email="a@site.example", to="Ö <ö@xn--bcher-kva.de>")
    Message.objects.create(status="sent", from_email="a@site.example", to="ö@bücher.de.example")
    Bounce.objects.create(postmark_id=1, type="HardBounce", email="Ö@BÜCHER.de")
    call_command("postmark_forget", "ö@bücher.de", "--local-only", stdout=io.StringIO())
    assert list(Message.objects.values_list("to", flat=True)) == ["ö@bücher.de.example"]
    assert not Bounce.objects.exists()


def test_many_rows_are_erased_in_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    from postmark.operations import erase

    monkeypatch.setattr(erase, "CHUNK", 3)
    monkeypatch.setattr(erase, "BODY_BUDGET", 1)  # one body per query
    client = Client()
    for n in range(7):
        assert post(client, bounce("gone@shop.example", Details=str(n))).status_code == 200
        assert post(client, bounce(f"{n}gone@shop.example")).status_code == 200
    out = io.StringIO()
    call_command("postmark_forget", "gone@shop.example", "--local-only", stdout=out)
    assert "Erased 7 webhook events, 7 bounces, 0 messages, 1 suppressions." in out.getvalue()
    assert WebhookEvent.objects.count() == Bounce.objects.count() == 7
