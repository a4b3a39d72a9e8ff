"""Settings for the test suite. SQLite by default; POSTMARK_TEST_DATABASE=postgres for PostgreSQL
(127.0.0.1:5432, user postgres, database test; override with PGHOST/PGPORT/PGUSER/PGDATABASE) or
POSTMARK_TEST_DATABASE=mysql for MariaDB or MySQL (127.0.0.1:3306, user root, empty password,
database test; override with MYSQL_HOST/MYSQL_PORT/MYSQL_USER/MYSQL_PASSWORD/MYSQL_DATABASE).
POSTMARK_TEST_DB_NAME names the test database that pytest-django creates on either server."""

from __future__ import annotations

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
]
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


def postgres_database(**overrides: object) -> dict[str, object]:
    """The machine's PostgreSQL (PGHOST, PGPORT, PGUSER and PGDATABASE override the defaults)."""
    return {
        "ENGINE": "django.db.backends.postgresql",
        "HOST": os.environ.get("PGHOST", "127.0.0.1"),
        "PORT": os.environ.get("PGPORT", "5432"),
        "USER": os.environ.get("PGUSER", "postgres"),
        "NAME": os.environ.get("PGDATABASE", "test"),
        **overrides,
    }


def mysql_database(**overrides: object) -> dict[str, object]:
    """The machine's MariaDB or MySQL, in utf8mb4 (MySQL's "utf8" cannot hold every code point)."""
    return {
        "ENGINE": "django.db.backends.mysql",
        "HOST": os.environ.get("MYSQL_HOST", "127.0.0.1"),
        "PORT": os.environ.get("MYSQL_PORT", "3306"),
        "USER": os.environ.get("MYSQL_USER", "root"),
        "PASSWORD": os.environ.get("MYSQL_PASSWORD", ""),
        "NAME": os.environ.get("MYSQL_DATABASE", "test"),
        "OPTIONS": {"charset": "utf8mb4"},
        **overrides,
    }


SERVER_DATABASES = {"postgres": postgres_database, "mysql": mysql_database}
DATABASE_KIND = os.environ.get("POSTMARK_TEST_DATABASE", "sqlite")

if DATABASE_KIND in SERVER_DATABASES:
    # Parallel runs on one server each need their own test database.
    test_name = os.environ.get("POSTMARK_TEST_DB_NAME", "test_django_postmark")
    test_options: dict[str, object] = {"NAME": test_name}
    if DATABASE_KIND == "mysql":
        test_options["CHARSET"] = "utf8mb4"  # and the server's default collation, as a site has
    DATABASES = {"default": SERVER_DATABASES[DATABASE_KIND](TEST=test_options)}
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
