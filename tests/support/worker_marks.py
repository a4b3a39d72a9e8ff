"""What the tests with real worker processes share: they run only on a database server (the
workers share the test database), once per task engine, RQ's only where Redis answers."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings

ON_SERVER = settings.DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3"

#: The module marks of a worker test module (``pytestmark = WORKER_MARKS``).
WORKER_MARKS = [
    pytest.mark.worker,
    pytest.mark.postgres,
    pytest.mark.skipif(
        not ON_SERVER,
        reason="worker processes share the test database, which needs a database server: "
        "run with POSTMARK_TEST_DATABASE=postgres or mysql",
    ),
    pytest.mark.django_db(transaction=True),
]


def redis_reachable() -> bool:
    import redis

    try:
        return bool(redis.Redis(host="127.0.0.1", port=6379, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


#: The task engines a worker fixture is parametrised with.
ENGINES: list[Any] = [
    "db",
    pytest.param(
        "rq",
        marks=pytest.mark.skipif(
            not redis_reachable(), reason="RQ tests need Redis on 127.0.0.1:6379"
        ),
    ),
]
