"""Deprecated: the operations' tasks live in ``postmark.tasks``, with every other task.

This path was documented (CHANGELOG 1.x), so it keeps working until the next major release;
importing it warns, since two modules named ``tasks`` say two things about where tasks live.
"""

import warnings

from ..tasks import bulk_status_task, purge_task, sync_task

__all__ = ["bulk_status_task", "purge_task", "sync_task"]

warnings.warn(
    "postmark.operations.tasks is deprecated: import sync_task, purge_task and bulk_status_task "
    "from postmark.tasks.",
    DeprecationWarning,
    stacklevel=2,
)
