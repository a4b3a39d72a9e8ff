"""QueuedPostmarkBackend keeps the contract every backend of this app keeps, with a task
backend that runs each task as it is enqueued (the task, its worker code and post_send run)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.backend_contract import BackendContract
from tests.support.queued_sending import IMMEDIATE


class TestQueuedPostmarkBackend(BackendContract):
    backend = "postmark.backends.QueuedPostmarkBackend"
    sends_in_caller = False

    @pytest.fixture(autouse=True)
    def _database(self, transactional_db: None) -> None:
        """Batches are enqueued on commit, which a test inside a transaction never sees."""

    @pytest.fixture(autouse=True)
    def _tasks_run_at_once(self, settings: Any) -> None:
        settings.TASKS = {"default": {"BACKEND": IMMEDIATE}}
