"""Settings for the task-worker processes that tests/queue/test_workers.py starts (and the processes
that queue mail for them). They share the test run's database (PostgreSQL, or MariaDB/MySQL with
POSTMARK_TEST_DATABASE=mysql), named by the test in POSTMARK_WORKER_DB_NAME, and use Redis
database 3 for RQ (POSTMARK_WORKER_REDIS_URL).

POSTMARK_WORKER_TASKS picks the task backend: "db" (django-tasks-db) or "rq" (django-tasks-rq).
"""

from __future__ import annotations

import os

from .settings import *  # noqa: F403
from .settings import DATABASE_KIND, INSTALLED_APPS, SERVERS, server_database

REDIS_URL = os.environ.get("POSTMARK_WORKER_REDIS_URL", "redis://127.0.0.1:6379/3")

INSTALLED_APPS = [*INSTALLED_APPS, "django_rq"]

_kind = DATABASE_KIND if DATABASE_KIND in SERVERS else "postgres"
DATABASES = {
    "default": server_database(_kind, NAME=os.environ.get("POSTMARK_WORKER_DB_NAME", "test_tasks"))
}

# A queue name of each test run's own, so that runs sharing the Redis database (CI in a copy of
# the tree, say) never take each other's jobs.
QUEUE = os.environ.get("POSTMARK_WORKER_QUEUE", "default")
TASK_BACKENDS = {
    "db": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": [QUEUE]},
    "rq": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": [QUEUE]},
}
TASKS = {"default": TASK_BACKENDS[os.environ.get("POSTMARK_WORKER_TASKS", "db")]}
# django-tasks-rq looks task results up through django-rq's "default" connection.
RQ_QUEUES = {name: {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 300} for name in (QUEUE, "default")}
POSTMARK_QUEUE_NAME = QUEUE

EMAIL_BACKEND = "postmark.backends.QueuedPostmarkBackend"
POSTMARK_API_URL = os.environ.get("POSTMARK_API_URL", "http://127.0.0.1:9")
POSTMARK_BATCH_SIZE = int(os.environ.get("POSTMARK_BATCH_SIZE", "500"))
POSTMARK_MAX_RETRIES = 0
POSTMARK_QUEUE_RETRY_DELAY = float(os.environ.get("POSTMARK_QUEUE_RETRY_DELAY", "30"))
POSTMARK_TIMEOUT = (2.0, 30.0)
# Other servers' tokens, separated by spaces (tests of messages with a server_token).
POSTMARK_SERVER_TOKENS = os.environ.get("POSTMARK_SERVER_TOKENS", "").split()

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["stderr"], "level": "INFO"},
}
