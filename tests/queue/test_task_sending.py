"""The task sends a queued batch as the synchronous backend would (results, signals, log,
templates, suppressions), and sends it once however often it is delivered. The real-worker
tests are in test_workers.py."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pytest
from django.core import mail

import postmark
from postmark import signals
from postmark.backends import QueuedPostmarkBackend
from postmark.message import PostmarkEmailMessage
from postmark.models import Message, QueuedBatch
from postmark.tasks import send_queued_batch
from tests.support.fake_postmark import FakePostmark, Reply
from tests.support.queued_sending import messages, run_tasks, send

pytestmark = pytest.mark.django_db

PACKAGE = Path(postmark.__file__).parent


def test_the_task_sends_the_batch_with_the_same_results_and_log_as_the_synchronous_backend(
    immediate: None, fake_postmark: FakePostmark, django_capture_on_commit_callbacks: Any
) -> None:
    seen: list[dict[str, Any]] = []

    def receiver(sender: Any, **kwargs: Any) -> None:
        seen.append({"sender": sender, **kwargs})

    signals.post_send.connect(receiver)
    try:
        send(messages(2, tag="welcome"), commit=django_capture_on_commit_callbacks)
    finally:
        signals.post_send.disconnect(receiver)

    [request] = fake_postmark.requests
    assert request.path == "/email/batch"
    assert [m["To"] for m in request.body] == ["user0@example.com", "user1@example.com"]
    [call] = seen
    assert call["sender"] is QueuedPostmarkBackend
    assert [result.status for result in call["results"]] == ["sent", "sent"]
    assert [m.tag for m in call["messages"]] == ["welcome", "welcome"]
    logged = Message.objects.order_by("to")
    assert [(m.to, m.status, m.tag) for m in logged] == [
        ("user0@example.com", "sent", "welcome"),
        ("user1@example.com", "sent", "welcome"),
    ]
    assert all(m.message_id for m in logged)
    batch = QueuedBatch.objects.get()
    assert batch.state == "sent"
    assert [entry["result"]["message_id"] for entry in batch.messages] == [
        str(m.message_id) for m in logged
    ]


def test_a_task_delivered_twice_sends_the_batch_once(
    queued: Any, fake_postmark: FakePostmark, django_capture_on_commit_callbacks: Any
) -> None:
    send(messages(2), commit=django_capture_on_commit_callbacks)
    [task_result] = queued.results
    first = send_queued_batch.call(*task_result.args)
    second = send_queued_batch.call(*task_result.args)
    assert first["state"] == second["state"] == "sent"
    assert len(fake_postmark.requests) == 1
    assert Message.objects.count() == 2


def test_a_message_suppressed_in_pre_send_is_not_sent_but_logged_by_the_task(
    queued: Any, fake_postmark: FakePostmark, django_capture_on_commit_callbacks: Any
) -> None:
    def drop_user1(sender: Any, messages: list[Any], **kwargs: Any) -> None:
        for message in messages:
            if "user1@example.com" in message.to:
                message.to = [a for a in message.to if a != "user1@example.com"]
                message.suppressed_recipients = ["user1@example.com"]

    signals.pre_send.connect(drop_user1)
    try:
        items = messages(2)
        assert send(items, commit=django_capture_on_commit_callbacks) == 1
    finally:
        signals.pre_send.disconnect(drop_user1)
    assert items[1].postmark.status == "suppressed"
    run_tasks(queued)
    assert [m["To"] for m in fake_postmark.sent_messages] == ["user0@example.com"]
    assert sorted(Message.objects.values_list("status", "to")) == [
        ("sent", "user0@example.com"),
        ("suppressed", "user1@example.com"),
    ]


def test_template_messages_are_queued_and_sent_through_the_template_endpoint(
    queued: Any, fake_postmark: FakePostmark, django_capture_on_commit_callbacks: Any
) -> None:
    items = [
        PostmarkEmailMessage(to=[f"t{n}@example.com"], template_alias="welcome") for n in range(2)
    ]
    send(items + messages(1), commit=django_capture_on_commit_callbacks)
    run_tasks(queued)
    assert sorted(r.path for r in fake_postmark.requests) == ["/email", "/email/batchWithTemplates"]
    assert Message.objects.filter(status="sent").count() == 3


def test_the_log_keeps_the_same_bodies_as_synchronous_sending(
    immediate: None, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.POSTMARK_STORE_BODIES = True
    both = mail.EmailMultiAlternatives("Both", "Plain text", to=["both@example.com"])
    both.attach_alternative("<p>HTML</p>", "text/html")
    html_only = mail.EmailMessage("HTML", "<p>Only</p>", to=["html@example.com"])
    html_only.content_subtype = "html"
    send([both, html_only], commit=django_capture_on_commit_callbacks)
    logged = {m.to: (m.text_body, m.html_body) for m in Message.objects.all()}
    assert logged == {
        "both@example.com": ("Plain text", "<p>HTML</p>"),
        "html@example.com": ("", "<p>Only</p>"),
    }


@pytest.mark.parametrize("bulk", [False, True], ids=["batch", "bulk"])
def test_name_and_address_pairs_are_logged_as_the_synchronous_backend_logs_them(
    immediate: None,
    fake_postmark: FakePostmark,
    django_capture_on_commit_callbacks: Any,
    bulk: bool,
) -> None:
    if bulk:
        fake_postmark.script(*[Reply(200, {"ID": "b1", "Status": "Accepted"})] * 2)

    def pairs() -> PostmarkEmailMessage:
        return PostmarkEmailMessage(
            "Hi",
            "Body",
            ("Shop", "shop@example.com"),
            [("Ann", "ann@example.com"), "bob@example.com"],
            reply_to=[("Help", "help@example.com")],
            bulk=bulk,
        )

    mail.get_connection("postmark.backends.PostmarkBackend").send_messages([pairs()])
    synchronous = sorted(Message.objects.values_list("from_email", "to"))
    Message.objects.all().delete()
    send([pairs()], commit=django_capture_on_commit_callbacks)
    assert sorted(Message.objects.values_list("from_email", "to")) == synchronous
    shop = "Shop <shop@example.com>"
    one_row_each = [(shop, "Ann <ann@example.com>"), (shop, "bob@example.com")]
    assert synchronous == (
        one_row_each if bulk else [(shop, "Ann <ann@example.com>, bob@example.com")]
    )


def test_the_worker_uses_no_email_api_django_deprecates(
    kept_tasks: Any, fake_postmark: FakePostmark, django_capture_on_commit_callbacks: Any
) -> None:
    # Django 6.1 deprecates get_connection(); the worker must not warn in every user's logs.
    send(messages(1), commit=django_capture_on_commit_callbacks)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run_tasks(kept_tasks)
    assert len(fake_postmark.requests) == 1
    ours = [w for w in caught if Path(w.filename).is_relative_to(PACKAGE)]
    assert ours == [], [f"{w.filename}:{w.lineno}: {w.message}" for w in ours]
