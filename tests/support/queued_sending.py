"""Queued sending in one process, for the tests in tests/queue: task backends that keep their
tasks (run them with ``run_tasks``) or run each at once, and messages to queue."""

from __future__ import annotations

import importlib.util
from typing import Any

from django.core import mail
from django.utils.module_loading import import_string

from postmark.message import PostmarkEmailMessage

QUEUED_BACKEND = "postmark.backends.QueuedPostmarkBackend"
# Django 6 ships the Tasks framework; on Django 5.2 the django-tasks backport provides it.
TASKS_MODULE = "django.tasks" if importlib.util.find_spec("django.tasks") else "django_tasks"
DUMMY = f"{TASKS_MODULE}.backends.dummy.DummyBackend"
IMMEDIATE = f"{TASKS_MODULE}.backends.immediate.ImmediateBackend"
# Importing a backend of the framework connects its receiver that forgets the task backends
# made when a test changes TASKS (the backport connects it no sooner).
import_string(DUMMY)


def messages(count: int, **options: Any) -> list[PostmarkEmailMessage]:
    return [
        PostmarkEmailMessage(f"Subject {n}", f"Body {n}", to=[f"user{n}@example.com"], **options)
        for n in range(count)
    ]


def send(items: list[Any], *, fail_silently: bool = False, commit: Any = None) -> int:
    connection = mail.get_connection(QUEUED_BACKEND, fail_silently=fail_silently)
    if commit is None:
        return connection.send_messages(items)
    with commit(execute=True):
        return connection.send_messages(items)


def run_tasks(backend: Any) -> list[Any]:
    """Run every task the dummy backend holds, like a worker would; return their values."""
    pending, values = list(backend.results), []
    backend.clear()
    for result in pending:
        values.append(result.task.call(*result.args, **result.kwargs))
    return values
