"""Settings of the example site. Every value can be set by an environment variable; the defaults
run the demo against the local sandbox (``make demo``) with nothing to configure.

To use real Postmark, set POSTMARK_API_URL=https://api.postmarkapp.com, POSTMARK_API_KEY to your
server token and DEFAULT_FROM_EMAIL to a confirmed sender signature (README: "Pointing the
example at real Postmark").

Safe by default, because examples get copied: DEBUG is off unless EXAMPLE_DEBUG=1; only loopback
host names are served; the pages send and show mail for signed-in staff only; the secret key and
the webhook password are random unless given (no secret is a string in this repository).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import django

from example.local import is_local_sandbox, kept_secret

HERE = Path(__file__).resolve().parent.parent


def env(name: str, default: str) -> str:
    return os.environ.get(name) or default


def env_flag(name: str, default: bool) -> bool:
    return env(name, "1" if default else "0").strip().lower() in ("1", "true", "yes", "on")


DATABASE = env("EXAMPLE_DATABASE", str(HERE / "db.sqlite3"))
# Made once per database and kept beside it (0600), so sessions survive a restart of the demo.
SECRET_KEY = os.environ.get("EXAMPLE_SECRET_KEY") or kept_secret(Path(DATABASE + "-secret-key"))
DEBUG = env_flag("EXAMPLE_DEBUG", False)
ALLOWED_HOSTS = [
    host.strip()
    for host in env("EXAMPLE_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]").split(",")
    if host.strip()
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "index"
LOGOUT_REDIRECT_URL = "login"
ROOT_URLCONF = "example.urls"
WSGI_APPLICATION = None
USE_TZ = True
TIME_ZONE = "UTC"
STATIC_URL = "static/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    # Django 6 has the Tasks framework built in; on 5.2 the django-tasks package provides it.
    *(["django_tasks"] if django.VERSION < (6, 0) else []),
    "django_tasks_db",
    "postmark",
    "example",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
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

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": DATABASE,
        # The site, the task worker and the webhooks write at the same time: WAL lets readers
        # proceed, IMMEDIATE transactions queue writers instead of failing with "locked".
        "OPTIONS": {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL;",
        },
    }
}

# Sending: the queued backend stores each batch and a `manage.py db_worker` process sends it.
# EXAMPLE_EMAIL_BACKEND=postmark.backends.PostmarkBackend sends within the request instead.
EMAIL_BACKEND = env("EXAMPLE_EMAIL_BACKEND", "postmark.backends.QueuedPostmarkBackend")
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "Example <sender@example.com>")

POSTMARK_API_URL = env("POSTMARK_API_URL", "http://127.0.0.1:8025")
POSTMARK_API_KEY = env("POSTMARK_API_KEY", "sandbox-server-token")
POSTMARK_TEST_MODE = env_flag("POSTMARK_TEST_MODE", False)
POSTMARK_MESSAGE_STREAM = os.environ.get("POSTMARK_MESSAGE_STREAM") or None
# Webhooks: Postmark (or the sandbox) calls https://USER:PASSWORD@your-host/postmark/bounce/.
# Without POSTMARK_API_PASSWORD the password is random, so no webhook gets in: a published
# default would let anyone post bounces that suppress your recipients. `make demo` makes one and
# gives it to the site and the sandbox.
POSTMARK_API_USER = env("POSTMARK_API_USER", "postmark")
POSTMARK_API_PASSWORD = env("POSTMARK_API_PASSWORD", secrets.token_urlsafe(24))
# Quick retries in the worker; the demo's sandbox is local.
POSTMARK_QUEUE_RETRY_DELAY = float(env("POSTMARK_QUEUE_RETRY_DELAY", "5"))

# Settling a send whose answer never came ("unknown"; the index page's "When Postmark's answer
# never arrives" plays one): the worker searches the sandbox for the message 10 s after the call,
# long enough to watch the row say "unknown", and believes "not found" 30 s after it. Against
# the local sandbox only: its search lags by the demo's --index-delay (a few seconds), which it
# is sure to be past by then. Real Postmark's lag is unknown, so anywhere else the app's
# defaults stand (60 s, and an hour before "not found" is believed: believed too soon, a
# message Postmark took is marked failed, or with "resend" sent twice).
against_sandbox = is_local_sandbox(POSTMARK_API_URL)  # lowercase: not a setting
POSTMARK_SETTLE_AFTER = float(env("POSTMARK_SETTLE_AFTER", "10" if against_sandbox else "60"))
POSTMARK_SETTLE_NOT_FOUND_AFTER = float(
    env("POSTMARK_SETTLE_NOT_FOUND_AFTER", "30" if against_sandbox else "3600")
)
# What a message not found by then becomes: "fail" (the app's default, never a second copy) or
# "resend" (sent once more, with the same id).
POSTMARK_SETTLE_NOT_FOUND = env("POSTMARK_SETTLE_NOT_FOUND", "fail")

# Inbound mail: comments by email (example/mailboxes.py). A post's notification is sent with a
# signed Reply-To, reply+<token>@POSTMARK_INBOUND_DOMAIN; Postmark (or the sandbox of `make demo`)
# posts the reply to /postmark/inbound/, and the worker routes it to the "comments" mailbox.
# example.com's subdomains are reserved for examples (RFC 2606): set your own domain, the one
# Postmark receives mail for, to take real replies.
POSTMARK_INBOUND_DOMAIN = env("POSTMARK_INBOUND_DOMAIN", "inbound.example.com")
POSTMARK_INBOUND_ROUTES = [
    {"mailbox": "comments", "reply_for": "example.Post"},
    {"mailbox": "others"},  # everything else: refused replies get a notice, the rest is dropped
]
# Processed by the worker that sends the queued mail; without the queued backend `make demo`
# runs no worker, so the site processes each message itself once it is stored.
POSTMARK_INBOUND_PROCESSING = env(
    "POSTMARK_INBOUND_PROCESSING",
    "task" if EMAIL_BACKEND.endswith(".QueuedPostmarkBackend") else "sync",
)
# Quick retries of a failing mailbox, as for sending.
POSTMARK_INBOUND_RETRY_DELAY = float(env("POSTMARK_INBOUND_RETRY_DELAY", "5"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {
        "postmark": {"handlers": ["console"], "level": env("EXAMPLE_LOG_LEVEL", "INFO")},
        # With DEBUG off Django mails a failing request's traceback to ADMINS (none here):
        # print it in the site's log instead.
        "django.request": {"handlers": ["console"], "level": "ERROR"},
    },
}
