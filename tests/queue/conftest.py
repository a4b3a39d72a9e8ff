"""The queued backend on a task backend of Django's Tasks framework, in the test's process."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from postmark.queue.tasks_api import task_backends
from tests.support.fake_postmark import FakePostmark
from tests.support.queued_sending import DUMMY, IMMEDIATE, QUEUED_BACKEND


@pytest.fixture
def kept_tasks(settings: Any) -> Iterator[Any]:
    """A task backend that keeps its tasks until ``run_tasks`` (the worker's code) runs them."""
    settings.TASKS = {"default": {"BACKEND": DUMMY}}
    settings.POSTMARK_MAX_RETRIES = 0
    backend = task_backends["default"]
    backend.clear()
    yield backend
    backend.clear()


@pytest.fixture
def queued(settings: Any, fake_postmark: FakePostmark, kept_tasks: Any) -> Any:
    """The queued backend on a dummy task backend (tasks are kept, not run); returns it."""
    settings.EMAIL_BACKEND = QUEUED_BACKEND
    return kept_tasks


@pytest.fixture
def immediate(settings: Any, fake_postmark: FakePostmark) -> None:
    """The queued backend on a task backend that runs each task as it is enqueued."""
    settings.EMAIL_BACKEND = QUEUED_BACKEND
    settings.TASKS = {"default": {"BACKEND": IMMEDIATE}}
    settings.POSTMARK_MAX_RETRIES = 0
