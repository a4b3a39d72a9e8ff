"""Settings for the test suite. SQLite by default; POSTMARK_TEST_DATABASE=postgres for PostgreSQL
(127.0.0.1:5432, user postgres, database test; override with PGHOST/PGPORT/PGUSER/PGDATABASE) or
POSTMARK_TEST_DATABASE=mysql for MariaDB or MySQL (127.0.0.1:3306, user root, empty password,
database test; override with MYSQL_HOST/MYSQL_PORT/MYSQL_USER/MYSQL_PASSWORD/MYSQL_DATABASE).
POSTMARK_TEST_DB_NAME names the test database that pytest-django creates on either server."""

from __future__ import annotations

import importlib.util
import os

SECRET_KEY = "tests-only-not-secret"
DEBUG = False
USE_TZ = True
TIME_ZONE = "UTC"
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = "tests.urls"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
DEFAULT_FROM_EMAIL = "Sender <sender@example.com>"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "postmark",
    "tests.inbound.blog",  # the posts and comments of the reply-by-email example
    # A task queue that is a table of the site's database (tests/inbound/test_intake.py), and
    # the worker processes' database queue.
    "django_tasks_db",
]
if not importlib.util.find_spec("django.tasks"):  # Django 5.2: the backport is an app too
    INSTALLED_APPS.append("django_tasks")
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]


#: Per server: its engine, the prefix of the environment variables that override the defaults
#: (PGHOST, PGPORT, PGUSER, PGDATABASE; MYSQL_HOST, ..., MYSQL_PASSWORD, MYSQL_DATABASE), the
#: defaults, and its OPTIONS (MySQL's "utf8" cannot hold every code point: utf8mb4).
SERVERS: dict[str, tuple[str, str, dict[str, str], dict[str, object]]] = {
    "postgres": (
        "django.db.backends.postgresql",
        "PG",
        {"HOST": "127.0.0.1", "PORT": "5432", "USER": "postgres", "DATABASE": "test"},
        {},
    ),
    "mysql": (
        "django.db.backends.mysql",
        "MYSQL_",
        {"HOST": "127.0.0.1", "PORT": "3306", "USER": "root", "PASSWORD": "", "DATABASE": "test"},
        {"charset": "utf8mb4"},
    ),
}


def server_database(kind: str, **overrides: object) -> dict[str, object]:
    """The machine's PostgreSQL ("postgres") or MariaDB/MySQL ("mysql")."""
    engine, prefix, defaults, options = SERVERS[kind]
    given = {key: os.environ.get(prefix + key, value) for key, value in defaults.items()}
    given["NAME"] = given.pop("DATABASE")
    return {"ENGINE": engine, **given, "OPTIONS": dict(options), **overrides}


def postgres_database(**overrides: object) -> dict[str, object]:
    return server_database("postgres", **overrides)


DATABASE_KIND = os.environ.get("POSTMARK_TEST_DATABASE", "sqlite")

if DATABASE_KIND in SERVERS:
    # Parallel runs on one server each need their own test database.
    test_name = os.environ.get("POSTMARK_TEST_DB_NAME", "test_django_postmark")
    test_options: dict[str, object] = {"NAME": test_name}
    if DATABASE_KIND == "mysql":
        test_options["CHARSET"] = "utf8mb4"  # and the server's default collation, as a site has
    DATABASES = {"default": server_database(DATABASE_KIND, TEST=test_options)}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("POSTMARK_TEST_SQLITE", ":memory:"),
        }
    }

EMAIL_BACKEND = "postmark.backends.PostmarkBackend"
POSTMARK_API_KEY = "server-token"
POSTMARK_API_URL = "http://127.0.0.1:9"  # each test points this at its own loopback server
POSTMARK_RETRY_BACKOFF = 0.0
POSTMARK_TIMEOUT = (2.0, 5.0)
POSTMARK_API_USER = "hook-user"
POSTMARK_API_PASSWORD = "hook-password"
