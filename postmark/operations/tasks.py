"""Documented path (README) of the operations' tasks, which live in ``postmark.tasks``."""

from ..tasks import bulk_status_task, purge_task, sync_task

__all__ = ["bulk_status_task", "purge_task", "sync_task"]
