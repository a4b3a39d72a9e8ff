"""The documentation's "reply to this email to comment", run as written (docs/inbound.rst, Reply
addresses): the route, the mailbox (``tests.inbound.blog.mailboxes``) and ``set_reply_address``
on a notification sent through the sandbox; the reply posted to the real inbound view, routed
and processed. A reply whose address was changed, has expired, or whose post is gone is not a
comment: it falls through to the next route, or is kept unrouted, the reason on its record."""

from __future__ import annotations

import uuid
from contextlib import nullcontext
from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.core.mail import EmailMessage
from django.test import Client
from freezegun import freeze_time
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase

from postmark.inbound.replies import reply_address, set_reply_address
from postmark.models import InboundMessage
from postmark.sandbox import Sandbox
from tests.inbound.blog.models import Comment, Post
from tests.inbound.conftest import Deliver, Mailboxes, inbound, record, run_kept
from tests.support.queued_sending import IMMEDIATE
from tests.support.webhook_helpers import INBOUND_URL, post

Status = InboundMessage.Status
DOMAIN = "reply.example.com"
#: The documentation's route, as written there.
ROUTES = [{"mailbox": "comments", "reply_for": "blog.Post"}]


@pytest.fixture
def blog(settings: Any, immediate: None) -> Post:
    settings.POSTMARK_INBOUND_DOMAIN = DOMAIN
    settings.POSTMARK_INBOUND_ROUTES = ROUTES
    return Post.objects.create(title="Hello")


def reply_to(address: str, text: str = "Great post!", **changes: Any) -> dict[str, Any]:
    """A person's reply to ``address`` as Postmark posts it (MailboxHash: what follows "+")."""
    token = address.partition("@")[0].partition("+")[2]
    fields = {
        "From": "ann@example.org",
        "FromFull": {"Email": "ann@example.org", "Name": "Ann", "MailboxHash": ""},
        "To": address,
        "ToFull": [{"Email": address, "Name": "", "MailboxHash": token}],
        "CcFull": [],
        "Cc": "",
        "OriginalRecipient": address,
        "MailboxHash": token,
        "StrippedTextReply": text,
    }
    return inbound(**{**fields, **changes})


@pytest.mark.django_db
def test_a_reply_to_a_notification_becomes_a_comment_on_its_post(
    blog: Post, postmark_sandbox: Sandbox, deliver: Deliver
) -> None:
    notification = EmailMessage(
        "New post", "Reply to this email to comment.", to=["ann@example.org"]
    )
    set_reply_address(notification, blog)
    assert notification.send() == 1
    [sent] = postmark_sandbox.messages
    payload = reply_to(sent.payload["ReplyTo"])

    assert deliver(payload).status_code == 200

    [comment] = blog.comments.all()
    assert (comment.email, comment.text) == ("ann@example.org", "Great post!")
    row = record(payload)
    assert (row.status, row.mailbox, row.note) == (Status.PROCESSED, "comments", "")


@pytest.mark.django_db
def test_the_reply_is_found_by_its_address_when_postmark_gives_no_mailbox_hash(
    blog: Post, deliver: Deliver
) -> None:
    # Mail to Postmark's hash address with the reply address in Cc, say: what follows "+" in
    # each recipient at the inbound domain is read too.
    address = reply_address(blog).upper()
    elsewhere = "someone@example.com"
    deliver(
        reply_to(
            address,
            MailboxHash="",
            To=elsewhere,
            ToFull=[],
            OriginalRecipient=elsewhere,
            Cc=address,
        )
    )
    assert blog.comments.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("spoil", "reason"),
    [
        ("tamper", "tampered"),
        ("expire", "expired"),
        ("delete", "gone"),
    ],
)
def test_a_reply_that_does_not_resolve_is_no_comment_and_its_record_says_why(
    blog: Post, deliver: Deliver, spoil: str, reason: str
) -> None:
    address = reply_address(blog, max_age=60)
    if spoil == "tamper":
        local, _, domain = address.partition("@")
        address = f"{local[:-2]}{'a' if local[-2] != 'a' else 'b'}{local[-1]}@{domain}"
    elif spoil == "delete":
        Post.objects.filter(pk=blog.pk).delete()
    payload = reply_to(address)
    with freeze_time(timedelta(minutes=2), tick=True) if spoil == "expire" else nullcontext():
        deliver(payload)

    assert not Comment.objects.exists()
    row = record(payload)
    assert row.status == Status.UNROUTED and row.error == ""
    assert row.note.startswith(f"Reply address refused ({reason}): ")


@pytest.mark.django_db
def test_a_refused_reply_falls_through_to_a_later_route_whose_mailbox_can_answer(
    blog: Post, deliver: Deliver, settings: Any, mailboxes: Mailboxes
) -> None:
    settings.POSTMARK_INBOUND_ROUTES = [*ROUTES, {"mailbox": "everything"}]
    Post.objects.filter(pk=blog.pk).delete()
    payload = reply_to(reply_address(blog))
    deliver(payload)

    [(name, mail)] = mailboxes.calls
    assert name == "everything" and mail.reply_object is None and mail.match is None
    assert mail.reply_problem.reason == "gone"
    assert record(payload).status == Status.PROCESSED
    assert record(payload).note.startswith("Reply address refused (gone): ")


@pytest.mark.django_db
def test_the_documented_catch_all_answers_a_refused_reply_and_drops_the_rest(
    blog: Post, deliver: Deliver, settings: Any
) -> None:
    settings.POSTMARK_INBOUND_ROUTES = [*ROUTES, {"mailbox": "others"}]
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    expired = reply_to(reply_address(blog, max_age=60))
    stranger = reply_to(f"hello@{DOMAIN}", MailboxHash="")
    with freeze_time(timedelta(minutes=2), tick=True):
        deliver(expired)
    deliver(stranger)

    [notice] = mail.outbox
    assert notice.to == ["ann@example.org"] and "no longer taken" in notice.body
    row = record(expired)
    assert (row.status, row.mailbox) == (Status.BOUNCED, "others")
    refused, told, notice_line = row.note.split("\n")
    assert refused.startswith("Reply address refused (expired): ")
    assert told == notice.body and notice_line == "Notice: sent"
    row = record(stranger)
    assert row.status == Status.BOUNCED
    assert row.note == "not for any mailbox\nDropped: no notice sent"
    assert not Comment.objects.exists()


@pytest.mark.django_db
def test_mail_that_is_no_reply_at_all_falls_through_without_a_note(
    blog: Post, deliver: Deliver
) -> None:
    # Plus-addressing (support+urgent@) is no refused reply: nothing to tell.
    payload = reply_to(f"support+urgent@{DOMAIN}")
    deliver(payload)
    row = record(payload)
    assert (row.status, row.note) == (Status.UNROUTED, "")


@pytest.mark.django_db
def test_a_reply_processed_after_its_address_expired_is_taken_if_it_arrived_in_time(
    blog: Post, client: Client, kept_tasks: Any, commit: Any
) -> None:
    payload = reply_to(reply_address(blog, max_age=60))
    with commit(execute=True):
        post(client, payload, INBOUND_URL)
    assert record(payload).status == Status.RECEIVED  # its task waits for a worker
    with freeze_time(timedelta(hours=1), tick=True):  # the worker was busy for an hour
        run_kept(kept_tasks)
    assert blog.comments.count() == 1 and record(payload).status == Status.PROCESSED


# --- Any change to a token: never a comment, never a failure ---------------------------------

BASE32 = "abcdefghijklmnopqrstuvwxyz234567"
changes = st.one_of(
    st.tuples(st.just("replace"), st.integers(0, 100), st.sampled_from(BASE32 + "019")),
    st.tuples(st.just("insert"), st.integers(0, 100), st.sampled_from(BASE32)),
    st.tuples(st.just("delete"), st.integers(0, 100), st.just("")),
    st.tuples(st.just("swap"), st.integers(0, 100), st.just("")),
)


def changed(token: str, change: tuple[str, int, str]) -> str:
    kind, index, char = change
    at = index % len(token)
    if kind == "replace":
        return token[:at] + char + token[at + 1 :]
    if kind == "insert":
        return token[:at] + char + token[at:]
    if kind == "delete":
        return token[:at] + token[at + 1 :]
    at = min(at, len(token) - 2)
    return token[:at] + token[at + 1] + token[at] + token[at + 2 :]


class TestChangedTokens(TestCase):
    def setUp(self) -> None:
        overrides = self.settings(
            POSTMARK_INBOUND_DOMAIN=DOMAIN,
            POSTMARK_INBOUND_ROUTES=ROUTES,
            TASKS={"default": {"BACKEND": IMMEDIATE}},
        )
        overrides.enable()
        self.addCleanup(overrides.disable)
        self.post = Post.objects.create(title="Hello")
        self.token = reply_address(self.post).partition("@")[0].partition("+")[2]

    @hypothesis_settings(
        max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
    )
    @given(st.lists(changes, min_size=1, max_size=3), st.booleans())
    def test_a_changed_token_is_never_taken_and_never_fails(
        self, edits: list[tuple[str, int, str]], upper: bool
    ) -> None:
        token = self.token
        for edit in edits:
            token = changed(token, edit)
        if token == self.token:
            return  # changed back: the same token
        sent = token.upper() if upper else token
        payload = reply_to(f"reply+{sent}@{DOMAIN}", MessageID=str(uuid.uuid4()))
        with self.captureOnCommitCallbacks(execute=True):
            assert post(self.client, payload, INBOUND_URL).status_code == 200

        assert not Comment.objects.exists()
        row = record(payload)
        assert row.status == Status.UNROUTED and row.error == ""
        # Its reason is told while it has a token's shape; anything else is no reply at all.
        if len(token) >= 26 and set(token) <= set(BASE32):
            reasons = ("Reply address refused (tampered): ", "Reply address refused (malformed): ")
            assert row.note.startswith(reasons)
        else:
            assert row.note == ""
