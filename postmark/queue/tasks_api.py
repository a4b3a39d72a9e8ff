"""Django's Tasks framework: ``django.tasks`` on Django 6, the django-tasks backport on 5.2."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured

try:
    from django.tasks import task, task_backends
    from django.tasks.base import Task, TaskResultStatus
    from django.tasks.exceptions import TaskResultDoesNotExist
except ImportError:  # pragma: no cover - depends on the Django version
    try:
        from django_tasks import (  # type: ignore[no-redef,assignment]
            TaskResultStatus,
            task,
            task_backends,
        )
        from django_tasks.base import Task  # type: ignore[no-redef,assignment]
        from django_tasks.exceptions import (  # type: ignore[no-redef,assignment]
            TaskResultDoesNotExist,
        )
    except ImportError as exc:
        raise ImproperlyConfigured(
            "Queued sending needs Django's Tasks framework: use Django 6, or "
            "`pip install django-tasks` on Django 5.2."
        ) from exc

__all__ = ["Task", "TaskResultDoesNotExist", "TaskResultStatus", "task", "task_backends"]
