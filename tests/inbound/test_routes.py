"""Routing: POSTMARK_INBOUND_ROUTES, first match wins, each criterion, a catch-all, and the
system checks that name the setting."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.core.checks import run_checks
from django.core.exceptions import ImproperlyConfigured
from hypothesis import given
from hypothesis import strategies as st

from postmark.events import InboundEvent
from postmark.inbound import InboundMail, Route, choose, configured_routes
from postmark.models import InboundMessage
from tests.inbound.conftest import Deliver, Mailboxes, inbound, record
from tests.support import webhook_payloads as payloads

Status = InboundMessage.Status


def mail_of(**changes: Any) -> InboundMail:
    return InboundMail(InboundMessage(), InboundEvent.from_payload(payloads.inbound(**changes)))


def chosen(routes: list[dict[str, Any]], settings: Any, **changes: Any) -> str | None:
    settings.POSTMARK_INBOUND_ROUTES = routes
    route = choose(mail_of(**changes), configured_routes())
    return route.mailbox if route else None


def is_vip(mail: InboundMail) -> Any:
    return "vip" in mail.event.subject and {"level": "gold"}


@pytest.mark.parametrize(
    ("route", "changes", "matches"),
    [
        ({"to": "desk@in.example.com"}, {"ToFull": [], "To": "DESK@In.Example.com"}, True),
        ({"to": "desk@in.example.com"}, {"ToFull": [], "To": "desk+urgent@in.example.com"}, True),
        ({"to": "desk@in.example.com"}, {"ToFull": [], "To": "desk2@in.example.com"}, False),
        ({"to": ["a@x.com", "desk@in.example.com"]}, {"Cc": "desk@in.example.com"}, False),
        ({"to": "firstcc@postmarkapp.com"}, {}, True),  # a Cc is a recipient too
        ({"to": "hidden@x.com"}, {"BccFull": [{"Email": "hidden@x.com"}]}, True),
        ({"to": "orig@x.com"}, {"OriginalRecipient": "Orig@X.com"}, True),
        ({"to_pattern": r"^billing(\+.*)?@"}, {"ToFull": [{"Email": "Billing+7@x.com"}]}, True),
        ({"to_pattern": r"^billing@"}, {"ToFull": [{"Email": "rebilling@x.com"}]}, False),
        ({"from": "Boss@Example.com"}, {"From": "boss@example.com"}, True),
        ({"from": "boss@example.com"}, {"From": "boss@example.com.evil"}, False),
        ({"from_pattern": r"@example\.com$"}, {"From": "a@EXAMPLE.com"}, True),
        ({"mailbox_hash": r"^reply-"}, {"MailboxHash": "reply-abc"}, True),
        ({"mailbox_hash": r"^reply-"}, {"MailboxHash": "noreply-abc"}, False),
        ({"subject": r"(?i)invoice"}, {"Subject": "Your INVOICE"}, True),
        ({"subject": r"invoice"}, {"Subject": "Your INVOICE"}, False),
        ({"match": is_vip}, {"Subject": "a vip"}, True),
        ({"match": "tests.inbound.test_routes.is_vip"}, {"Subject": "plain"}, False),
        ({"subject": "vip", "from": "other@x.com"}, {"Subject": "vip"}, False),  # all must
        ({}, {}, True),  # no criteria: a catch-all
    ],
)
def test_each_criterion_matches_what_it_says(
    settings: Any, route: dict[str, Any], changes: dict[str, Any], matches: bool
) -> None:
    found = chosen([{"mailbox": "box", **route}], settings, **changes)
    assert (found == "box") is matches


def test_the_first_matching_route_wins(settings: Any) -> None:
    routes = [
        {"mailbox": "first", "subject": "nothing like this"},
        {"mailbox": "second", "to": "firstcc@postmarkapp.com"},
        {"mailbox": "third"},
    ]
    assert chosen(routes, settings) == "second"


def test_no_route_matching_is_none(settings: Any) -> None:
    assert chosen([{"mailbox": "box", "subject": "^$"}], settings) is None


@pytest.mark.django_db
def test_a_callable_route_hands_what_it_found_to_the_mailbox(
    deliver: Deliver, settings: Any, immediate: None, mailboxes: Mailboxes
) -> None:
    settings.POSTMARK_INBOUND_ROUTES = [{"mailbox": "support", "match": is_vip}]
    deliver(inbound(Subject="a vip"))
    [(name, mail)] = mailboxes.calls
    assert name == "support" and mail.match == {"level": "gold"}


@pytest.mark.django_db
def test_routed_mail_reaches_the_mailbox_its_route_names(
    deliver: Deliver, immediate: None, mailboxes: Mailboxes
) -> None:
    to_support = inbound(ToFull=[{"Email": "Support@In.Example.com"}], To="")
    reply = inbound(MailboxHash="reply-9")
    other = inbound()
    for payload in (to_support, reply, other):
        deliver(payload)
    assert mailboxes.names() == ["support", "replies", "everything"]
    assert [record(p).mailbox for p in (to_support, reply, other)] == mailboxes.names()


@given(
    addresses=st.lists(
        st.from_regex(r"[a-z]{1,6}(\+[a-z0-9]{1,4})?@[a-z]{1,5}\.com", fullmatch=True)
    ),
    target=st.from_regex(r"[a-z]{1,6}@[a-z]{1,5}\.com", fullmatch=True),
)
def test_an_exact_address_route_matches_exactly_that_address_in_any_case_or_hash(
    addresses: list[str], target: str
) -> None:
    mail = mail_of(ToFull=[{"Email": a.upper()} for a in addresses], To="", CcFull=[], Cc="")
    mail.event.original_recipient = ""

    accepted, _ = Route(mailbox="x", to=frozenset([target])).accepts(mail)
    expected = any(re.sub(r"\+[^@]*@", "@", a) == target for a in addresses)
    assert accepted is expected


# --- Checks -----------------------------------------------------------------------------------


def ids(settings: Any) -> list[tuple[str, str]]:
    return [(m.id or "", m.msg) for m in run_checks() if (m.id or "").startswith("postmark.")]


@pytest.mark.parametrize(
    ("routes", "words"),
    [
        ("support", "must be a list of routes"),
        (["support"], "POSTMARK_INBOUND_ROUTES[0] must be a dict"),
        ([{"to": "a@x.com"}], "POSTMARK_INBOUND_ROUTES[0] must name its mailbox"),
        ([{"mailbox": "a", "too": "a@x.com"}], "unknown keys ['too']"),
        ([{"mailbox": "a", "subject": "("}], "['subject'] is not a regular expression"),
        ([{"mailbox": "a", "to": "not an address"}], "['to'] must be an email address"),
        ([{"mailbox": "a", "match": "no.such.module"}], "['match'] cannot be imported"),
        ([{"mailbox": "a", "match": 3}], "['match'] must be a callable"),
    ],
)
def test_a_route_that_cannot_be_read_is_an_error_naming_the_setting(
    settings: Any, routes: Any, words: str
) -> None:
    settings.POSTMARK_INBOUND_ROUTES = routes
    errors = [msg for check, msg in ids(settings) if check == "postmark.E030"]
    assert len(errors) == 1 and words in errors[0] and "POSTMARK_INBOUND_ROUTES" in errors[0]
    with pytest.raises(ImproperlyConfigured, match=re.escape(words)):
        configured_routes()


@pytest.mark.django_db
def test_mail_routed_by_a_route_that_cannot_be_read_fails_and_is_kept(
    deliver: Deliver, settings: Any, immediate: None
) -> None:
    settings.POSTMARK_INBOUND_ROUTES = [{"mailbox": "a", "too": "a@x.com"}]
    payload = inbound()
    deliver(payload)
    row = record(payload)
    assert row.status == Status.FAILED and "POSTMARK_INBOUND_ROUTES[0]" in row.error
    assert row.next_attempt_at is not None  # a deploy may fix it


def test_a_route_to_a_mailbox_without_receivers_is_a_warning(
    settings: Any, mailboxes: Mailboxes
) -> None:
    settings.POSTMARK_INBOUND_ROUTES = [{"mailbox": "support"}, {"mailbox": "nobody"}]
    warnings = [msg for check, msg in ids(settings) if check == "postmark.W030"]
    assert len(warnings) == 1 and "'nobody'" in warnings[0]


def test_good_routes_with_their_mailboxes_pass_the_checks(
    settings: Any, mailboxes: Mailboxes
) -> None:
    assert ids(settings) == []


def test_an_unknown_processing_mode_is_an_error(settings: Any) -> None:
    settings.POSTMARK_INBOUND_PROCESSING = "celery"
    assert [check for check, _ in ids(settings)] == ["postmark.E031"]


def test_task_processing_on_a_queue_that_cannot_take_it_is_an_error(
    settings: Any, mailboxes: Mailboxes
) -> None:
    settings.POSTMARK_QUEUE_TASK_BACKEND = "missing"
    errors = [msg for check, msg in ids(settings) if check == "postmark.E032"]
    assert len(errors) == 1 and "POSTMARK_QUEUE_TASK_BACKEND" in errors[0]
    settings.POSTMARK_INBOUND_PROCESSING = "sync"
    assert [check for check, _ in ids(settings) if check == "postmark.E032"] == []
