"""Fixtures of the inbound tests: routes, mailboxes that record their calls, task backends, and
``deliver``, which posts inbound mail to the real view as Postmark does and runs what the
webhook's commit schedules."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.test import Client

from postmark.inbound import InboundMail, Mailbox
from postmark.models import InboundMessage
from postmark.queue.tasks_api import task_backends
from postmark.signals import inbound_routed
from tests.support import webhook_payloads as payloads
from tests.support.queued_sending import DUMMY, IMMEDIATE
from tests.support.webhook_helpers import INBOUND_URL, post

ROUTES = [
    {"mailbox": "support", "to": "support@in.example.com"},
    {"mailbox": "replies", "mailbox_hash": r"^reply-"},
    {"mailbox": "everything"},
]


@dataclass
class Mailboxes:
    """Receivers connected to the named mailboxes: each call is kept, and a mailbox raises the
    exception ``failing[name]`` holds, if any."""

    calls: list[tuple[str, InboundMail]] = field(default_factory=list)
    failing: dict[str, BaseException] = field(default_factory=dict)
    actions: dict[str, Callable[[InboundMail], Any]] = field(default_factory=dict)
    connected: list[tuple[Any, Mailbox]] = field(default_factory=list)

    def connect(self, name: str) -> None:
        def receiver(sender: Mailbox, mail: InboundMail, **kwargs: Any) -> None:
            self.calls.append((sender.name, mail))
            if name in self.actions:
                self.actions[name](mail)
            if name in self.failing:
                raise self.failing[name]

        inbound_routed.connect(receiver, sender=Mailbox.named(name), weak=False)
        self.connected.append((receiver, Mailbox.named(name)))

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]

    def close(self) -> None:
        for receiver, sender in self.connected:
            inbound_routed.disconnect(receiver, sender=sender)


@pytest.fixture
def routes(settings: Any) -> list[dict[str, Any]]:
    settings.POSTMARK_INBOUND_ROUTES = ROUTES
    return ROUTES


@pytest.fixture
def mailboxes(routes: list[dict[str, Any]]) -> Iterator[Mailboxes]:
    boxes = Mailboxes()
    for name in ("support", "replies", "everything"):
        boxes.connect(name)
    yield boxes
    boxes.close()


@pytest.fixture
def immediate(settings: Any) -> None:
    """Tasks run as they are enqueued (Django's default task backend)."""
    settings.TASKS = {"default": {"BACKEND": IMMEDIATE}}


@pytest.fixture
def kept_tasks(settings: Any) -> Iterator[Any]:
    """Tasks are kept (run them with ``run_kept``), as a queue holds them for a worker."""
    settings.TASKS = {"default": {"BACKEND": DUMMY}}
    backend = task_backends["default"]
    backend.clear()
    yield backend
    backend.clear()


def run_kept(backend: Any) -> list[Any]:
    """Run every kept task as a worker would (the task's own code); return what they return."""
    pending = list(backend.results)
    backend.clear()
    return [result.task.call(*result.args, **result.kwargs) for result in pending]


def inbound(**changes: Any) -> dict[str, Any]:
    """Postmark's sample inbound payload, with a MessageID of its own."""
    return payloads.inbound(**{"MessageID": str(uuid.uuid4()), **changes})


Deliver = Callable[..., Any]


@pytest.fixture
def deliver(client: Client, django_capture_on_commit_callbacks: Any) -> Deliver:
    """``deliver(payload)``: POST it to the inbound webhook (basic auth, JSON) and run what the
    webhook's commit schedules; returns the response."""

    def post_mail(payload: Any) -> Any:
        with django_capture_on_commit_callbacks(execute=True):
            return post(client, payload, INBOUND_URL)

    return post_mail


def record(payload: dict[str, Any]) -> InboundMessage:
    return InboundMessage.objects.get(message_id=payload["MessageID"])


@pytest.fixture
def commit(django_capture_on_commit_callbacks: Any) -> Any:
    """``with commit(execute=True):`` runs what the block schedules for after its commit."""
    return django_capture_on_commit_callbacks
