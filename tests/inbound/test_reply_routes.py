"""The ``reply_for`` route criterion: the mail is a reply to a signed reply address made for an
instance of the named models, found in its MailboxHash, then in its recipients at the inbound
domain; the instance is ``mail.reply_object`` (and ``mail.match``); a misnamed model is
``postmark.E030``."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.apps import apps
from django.contrib.auth.models import Group
from django.core.checks import run_checks
from django.core.exceptions import ImproperlyConfigured

from postmark.events import InboundEvent
from postmark.inbound import InboundMail, choose, configured_routes, reprocess
from postmark.inbound.replies import reply_address
from postmark.models import InboundMessage
from tests.inbound.blog.models import Post
from tests.inbound.conftest import Deliver, Mailboxes, record
from tests.inbound.test_reply_example import DOMAIN, reply_to
from tests.support import webhook_payloads as payloads

Status = InboundMessage.Status
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _inbound_domain(settings: Any) -> None:
    settings.POSTMARK_INBOUND_DOMAIN = DOMAIN


def mail_to(address: str, **changes: Any) -> InboundMail:
    payload = reply_to(address, **changes)
    return InboundMail(InboundMessage(), InboundEvent.from_payload(payload))


def routed(settings: Any, routes: list[dict[str, Any]], mail: InboundMail) -> str | None:
    settings.POSTMARK_INBOUND_ROUTES = routes
    route = choose(mail, configured_routes())
    return route.mailbox if route else None


def test_a_reply_route_takes_a_reply_to_any_of_its_models_given_by_label_or_class(
    settings: Any,
) -> None:
    post, group = Post.objects.create(title="a"), Group.objects.create(name="g")
    routes = [{"mailbox": "replies", "reply_for": ["blog.Post", Group]}]
    for obj in (post, group):
        mail = mail_to(reply_address(obj))
        assert routed(settings, routes, mail) == "replies"
        assert mail.reply_object == obj and mail.match == obj and mail.reply_problem is None


def test_a_reply_for_another_model_goes_to_the_route_of_that_model(settings: Any) -> None:
    group = Group.objects.create(name="g")
    routes = [
        {"mailbox": "comments", "reply_for": "blog.Post"},
        {"mailbox": "groups", "reply_for": "auth.Group"},
    ]
    mail = mail_to(reply_address(group))
    assert routed(settings, routes, mail) == "groups"
    assert mail.reply_object == group and mail.reply_problem is None
    assert routed(settings, routes[:1], mail) is None
    assert mail.reply_object is None and mail.reply_problem.reason == "wrong_model"


def test_the_mailbox_hash_is_read_before_the_addresses(settings: Any) -> None:
    first, second = Post.objects.create(title="1"), Post.objects.create(title="2")
    hash_of_first = reply_address(first).partition("@")[0].partition("+")[2]
    mail = mail_to(reply_address(second), MailboxHash=hash_of_first)
    assert routed(settings, [{"mailbox": "c", "reply_for": "blog.Post"}], mail) == "c"
    assert mail.reply_object == first


def test_only_addresses_at_the_inbound_domain_are_read(settings: Any) -> None:
    post = Post.objects.create(title="a")
    elsewhere = reply_address(post, domain="other.example.com")
    mail = mail_to(elsewhere, MailboxHash="")
    assert routed(settings, [{"mailbox": "c", "reply_for": "blog.Post"}], mail) is None
    settings.POSTMARK_INBOUND_DOMAIN = "other.example.com"
    assert routed(settings, [{"mailbox": "c", "reply_for": "blog.Post"}], mail) == "c"


def test_the_other_criteria_of_a_reply_route_must_match_too(settings: Any) -> None:
    post = Post.objects.create(title="a")
    routes = [{"mailbox": "c", "reply_for": "blog.Post", "from": "bob@example.org"}]
    mail = mail_to(reply_address(post))
    assert routed(settings, routes, mail) is None and mail.reply_object is None


def from_the_post(mail: InboundMail) -> Any:
    return mail.reply_object is not None and {"title": mail.reply_object.title}


def test_a_reply_routes_callable_sees_the_object_and_gives_the_match(settings: Any) -> None:
    post = Post.objects.create(title="Hello")
    routes = [{"mailbox": "c", "reply_for": "blog.Post", "match": from_the_post}]
    mail = mail_to(reply_address(post))
    assert routed(settings, routes, mail) == "c"
    assert mail.match == {"title": "Hello"} and mail.reply_object == post


def test_a_retry_gives_the_mailbox_its_reply_object_again(
    deliver: Deliver, immediate: None, settings: Any, mailboxes: Mailboxes, commit: Any
) -> None:
    settings.POSTMARK_INBOUND_ROUTES = [{"mailbox": "support", "reply_for": "blog.Post"}]
    post = Post.objects.create(title="a")
    mailboxes.failing["support"] = RuntimeError("a bad deploy")
    payload = reply_to(reply_address(post))
    deliver(payload)
    assert record(payload).status == Status.FAILED

    del mailboxes.failing["support"]
    with commit(execute=True):
        assert reprocess(InboundMessage.objects.all()) == 1

    assert [mail.reply_object for _, mail in mailboxes.calls] == [post, post]
    assert record(payload).status == Status.PROCESSED


def test_a_retry_gives_a_catch_all_the_reply_problem_again(
    deliver: Deliver, immediate: None, settings: Any, mailboxes: Mailboxes, commit: Any
) -> None:
    settings.POSTMARK_INBOUND_ROUTES = [
        {"mailbox": "support", "reply_for": "blog.Post"},
        {"mailbox": "everything"},
    ]
    post = Post.objects.create(title="a")
    payload = reply_to(reply_address(post))
    Post.objects.filter(pk=post.pk).delete()
    mailboxes.failing["everything"] = RuntimeError("a bad deploy")
    deliver(payload)

    del mailboxes.failing["everything"]
    with commit(execute=True):
        assert reprocess(InboundMessage.objects.all()) == 1

    problems = [(name, mail.reply_problem.reason) for name, mail in mailboxes.calls]
    assert problems == [("everything", "gone"), ("everything", "gone")]
    assert record(payload).note.startswith("Reply address refused (gone): ")


def test_a_retry_whose_routes_now_send_the_mail_elsewhere_keeps_its_mailbox(
    deliver: Deliver, immediate: None, settings: Any, mailboxes: Mailboxes, commit: Any
) -> None:
    post = Post.objects.create(title="a")
    settings.POSTMARK_INBOUND_ROUTES = [{"mailbox": "support", "reply_for": "blog.Post"}]
    mailboxes.failing["support"] = RuntimeError("a bad deploy")
    payload = reply_to(reply_address(post))
    deliver(payload)

    del mailboxes.failing["support"]
    settings.POSTMARK_INBOUND_ROUTES = [
        {"mailbox": "everything", "reply_for": "blog.Post"},
        {"mailbox": "support", "reply_for": "blog.Post"},
    ]
    with commit(execute=True):
        reprocess(InboundMessage.objects.all())

    assert [(name, mail.reply_object) for name, mail in mailboxes.calls] == [
        ("support", post),
        ("support", post),
    ]


# --- Checks -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("blog.Nothing", "'blog.Nothing' is not one"),
        ("Post", "'Post' is not one"),
        (["blog.Post", 3], "3 is not one"),
        ([], "names no model"),
    ],
)
def test_a_reply_route_naming_no_installed_model_is_an_error_naming_the_setting(
    settings: Any, value: Any, words: str
) -> None:
    settings.POSTMARK_INBOUND_ROUTES = [{"mailbox": "c", "reply_for": value}]
    errors = [m.msg for m in run_checks() if m.id == "postmark.E030"]
    assert len(errors) == 1 and words in errors[0]
    assert "POSTMARK_INBOUND_ROUTES[0]['reply_for']" in errors[0]
    with pytest.raises(ImproperlyConfigured, match=re.escape(words)):
        configured_routes()


def test_a_reply_route_needs_contenttypes(settings: Any, monkeypatch: Any) -> None:
    # A site without contenttypes (uninstalling it here would take auth with it).
    installed = apps.is_installed
    monkeypatch.setattr(
        apps, "is_installed", lambda name: "contenttypes" not in name and installed(name)
    )
    settings.POSTMARK_INBOUND_ROUTES = [{"mailbox": "c", "reply_for": "postmark.Message"}]
    with pytest.raises(ImproperlyConfigured, match=r"django\.contrib\.contenttypes in INSTALLED"):
        configured_routes()


def test_the_mail_of_an_unreadable_reply_route_is_kept_as_failed(
    deliver: Deliver, immediate: None, settings: Any
) -> None:
    settings.POSTMARK_INBOUND_ROUTES = [{"mailbox": "c", "reply_for": "blog.Nothing"}]
    payload = payloads.inbound(MessageID="unreadable-reply-route")
    deliver(payload)
    assert "['reply_for']" in record(payload).error
