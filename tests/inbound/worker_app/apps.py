from __future__ import annotations

from django.apps import AppConfig


class WorkerMailboxConfig(AppConfig):
    name = "tests.inbound.worker_app"
    label = "inbound_worker_app"

    def ready(self) -> None:
        from . import mailboxes  # noqa: F401  (connects the mailbox)
