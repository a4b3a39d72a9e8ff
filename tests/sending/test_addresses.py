"""Recipients with hostile display names, sent through the backend: every address is read right,
or refused naming its field, in time linear in its length.

The names are generated from what a parser of addresses has to take care of: runs of spaces and
tabs, parentheses (comments, nested), quotes and backslashes, commas, angle brackets, colons
(groups), @, and text that is not ASCII. The reference for what a sent header says is the
standard library's own RFC 5322 parser (``email.policy.default``), on the payload Postmark gets.
"""

from __future__ import annotations

import contextlib
import gc
import itertools
import tracemalloc
from email.policy import default as modern_email
from typing import Any

import pytest
from django.core import mail
from django.core.mail import EmailMessage
from hypothesis import example, given, settings
from hypothesis import strategies as st

from postmark.exceptions import UnsupportedMessageError
from tests.support.cost_growth import growth

pytestmark = pytest.mark.django_db

HOSTILE = list(" \t()<>\"\\,;:@[].=?'é中\u00a0\u2003ab")
SPECIALS = set('<>,;:"()@\\[]')
hostile_text = st.lists(st.sampled_from(HOSTILE), max_size=40).map("".join)
runs = st.builds(
    lambda char, count, tail: char * count + tail,
    st.sampled_from([" ", "\t", "(", ")", '"', "\\", ",", "<", ":", " ("]),
    st.integers(0, 400),
    hostile_text,
)
hostile_names = st.one_of(hostile_text, runs, st.builds(str.__add__, hostile_text, runs))
counter = itertools.count()


@pytest.fixture(autouse=True)
def _test_backend(settings: Any) -> None:
    settings.EMAIL_BACKEND = "postmark.testing.backend.PostmarkTestBackend"
    settings.POSTMARK_API_KEY = None


def sent_payload(**fields: Any) -> dict[str, Any]:
    mail.outbox = []
    EmailMessage("Hi", "Body", "shop@example.com", **fields).send()
    [message] = mail.outbox
    return dict(message.postmark_payload)  # type: ignore[attr-defined]


def reference(header: str) -> list[tuple[str, str]]:
    """The (display name, address) pairs of a header, as the standard library reads them."""
    parsed = modern_email.header_factory("To", header)
    return [(a.display_name, a.addr_spec) for a in parsed.addresses]


@given(name=hostile_names)
def test_a_recipient_given_as_a_pair_keeps_its_name_whatever_it_holds(name: str) -> None:
    payload = sent_payload(to=[(name, "rcpt@example.com")])

    [(read_name, address)] = reference(payload["To"])
    assert address == "rcpt@example.com"
    assert read_name.split() == name.split()


@given(name=hostile_names)
def test_a_recipient_written_with_a_hostile_name_is_read_right_or_refused(name: str) -> None:
    try:
        payload = sent_payload(to=[f"{name} <rcpt@example.com>"])
    except UnsupportedMessageError as refusal:
        assert refusal.field == "To"
        return

    [(read_name, address)] = reference(payload["To"])
    assert "\r" not in payload["To"] and "\n" not in payload["To"]
    if not SPECIALS & set(name):
        assert (read_name.split(), address) == (name.split(), "rcpt@example.com")
    # What was sent reads back as itself.
    assert sent_payload(to=[payload["To"]])["To"] == payload["To"]


def quoted(name: str, address: str) -> str:
    escaped = name.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}" <{address}>'


@given(
    names=st.lists(
        st.text(st.characters(exclude_categories=("Cs", "Cc")), max_size=30), max_size=5
    ),
    depth=st.integers(0, 3000),
)
def test_a_reply_to_header_is_read_as_the_address_list_it_is(names: list[str], depth: int) -> None:
    pairs = [(name, f"reply{i}@example.com") for i, name in enumerate(names)]
    header = ", ".join(quoted(name, address) for name, address in pairs) or "only@example.com"
    expected = pairs or [("", "only@example.com")]
    if depth:
        # A comment after the last address, nested: it joins the name of an address in angle
        # brackets, and is the name of a bare one.
        header += " " + "(" * depth + "note" + ")" * depth
        name, address = expected[-1]
        expected[-1] = (f"{name} (note)".strip() if pairs else "note", address)

    payload = sent_payload(to=["rcpt@example.com"], headers={"Reply-To": header})

    read = reference(payload["ReplyTo"])
    assert [(n.split(), a) for n, a in read] == [(n.split(), a) for n, a in expected]


@settings(max_examples=8)
@given(
    motif=st.lists(st.sampled_from(HOSTILE), min_size=1, max_size=4).map("".join),
    spoiler=st.sampled_from(["(", ")", "<", '"', ",", ":", "@", "\\", ""]),
)
@example(motif=" ", spoiler="(")  # 1,500 spaces and a "(" took 1.8 s to read (issue 17)
@example(motif="a ", spoiler="<")
def test_the_cost_of_a_recipient_grows_linearly_with_its_name(motif: str, spoiler: str) -> None:
    def recipient(length: int) -> str:
        # A new address each time: the backend caches what it formatted.
        return (motif * length)[:length] + spoiler + f" <r{next(counter)}@example.com>"

    def send_to(length: int) -> Any:
        return lambda: _send_or_refuse(to=[recipient(length)])

    def reply_to(length: int) -> Any:
        return lambda: _send_or_refuse(
            to=["a@example.com"], headers={"Reply-To": recipient(length)}
        )

    assert growth(send_to, 2000) < 20
    assert growth(reply_to, 2000) < 20


def _send_or_refuse(**fields: Any) -> None:
    with contextlib.suppress(UnsupportedMessageError):
        EmailMessage("Hi", "Body", "shop@example.com", **fields).send()


def test_long_recipients_are_not_kept_once_their_messages_are_sent() -> None:
    sent_payload(to=["warm@example.com"])  # what the first send sets up stays, rightly
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for n in range(100):
            sent_payload(to=[f"{'x' * 40_000} {n} <r{n}@example.com>"])
        mail.outbox = []
        gc.collect()
        kept = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert kept < 1_000_000  # the 100 addresses hold 4 MB
