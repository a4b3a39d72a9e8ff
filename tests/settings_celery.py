"""Settings for the Celery worker processes that tests/queue/test_celery_workers.py starts (and
the processes that queue mail for them): tests.settings_workers with Celery on RabbitMQ as the
task backend, through django-tasks-fennel.

The broker is POSTMARK_CELERY_BROKER_URL (RabbitMQ on 127.0.0.1:5672 as guest by default); each
test run uses a queue of its own (POSTMARK_WORKER_QUEUE), so runs sharing the broker never take
each other's tasks. These are the settings docs/queue.rst tells users to copy.
"""

from __future__ import annotations

import os

from .settings_workers import *  # noqa: F403
from .settings_workers import INSTALLED_APPS, QUEUE

INSTALLED_APPS = [*INSTALLED_APPS, "django_tasks_fennel"]
TASKS = {"default": {"BACKEND": "django_tasks_fennel.CeleryBackend", "QUEUES": [QUEUE]}}

CELERY_BROKER_URL = os.environ.get(
    "POSTMARK_CELERY_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672//"
)
# Acknowledge a task only once it has run, and give it back to RabbitMQ when the process running
# it dies: a worker killed before claiming its batch leaves the task to the next worker instead
# of losing it. (A redelivered batch that was already claimed is never sent again.)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# One task reserved at a time per process, so a slow batch does not hold others back.
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# No result backend by default, as most Celery setups that only send mail; the Celery tests run
# recovery with a Redis one too (POSTMARK_CELERY_RESULT_BACKEND), where Celery reports a lost task
# as PENDING, like a waiting one, and postmark_recover must not believe it.
CELERY_RESULT_BACKEND = os.environ.get("POSTMARK_CELERY_RESULT_BACKEND") or None
