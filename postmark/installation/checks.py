"""System checks: misconfiguration is reported by ``manage.py check``, naming the setting."""

from __future__ import annotations

from typing import Any

from django.conf import global_settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register
from django.db import OperationalError
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils.module_loading import import_string

from ..api.spec import TRACK_LINKS_VALUES, can_send_from
from ..backends import PostmarkBackend, QueuedPostmarkBackend
from ..conf import settings
from ..exceptions import UnsupportedMessageError
from ..queue.queueing import queue_problem
from ..sending.addresses import bare_address, format_address
from ..testing.backend import PostmarkTestBackend
from ..webhooks.auth import missing_settings, secret_required
from ..webhooks.views import inbound_hook, outbound_hook
from .package import (
    REMEDY,
    holds_tables,
    migrate_command,
    migration_state,
    other_distributions,
)


@register()
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    if (
        any(backend.startswith("postmark.") for backend in _email_backends())
        and not settings.POSTMARK_API_KEY
        and not settings.POSTMARK_TEST_MODE
    ):
        messages.append(
            Error(
                "Email is sent through Postmark but POSTMARK_API_KEY is not set.",
                hint="Set POSTMARK_API_KEY to your server token, or POSTMARK_TEST_MODE = True.",
                id="postmark.E001",
            )
        )
    track_links = settings.POSTMARK_TRACK_LINKS
    if track_links is not None and track_links not in TRACK_LINKS_VALUES:
        messages.append(
            Error(
                f"POSTMARK_TRACK_LINKS is {track_links!r}.",
                hint='Use "None", "HtmlAndText", "HtmlOnly" or "TextOnly".',
                id="postmark.E002",
            )
        )
    return messages


@register()
def check_task_queue(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """postmark.E020/E021, for a project that sends with QueuedPostmarkBackend: its task backend
    (POSTMARK_QUEUE_TASK_BACKEND) and queue (POSTMARK_QUEUE_NAME) must exist."""
    if not any(_queues(path) for path in _email_backends()):
        return []
    problem = queue_problem()
    if problem is None:
        return []
    check_id, text = problem
    return [Error(text, hint="See README, Queued sending.", id=check_id)]


def _queues(backend_path: str) -> bool:
    """Whether the email backend is QueuedPostmarkBackend or a subclass of it."""
    try:
        backend = import_string(backend_path)
    except ImportError:
        return False  # Django says so when it is used; not this app's to check
    return isinstance(backend, type) and issubclass(backend, QueuedPostmarkBackend)


@register(Tags.security, Tags.urls)
def check_webhook_credentials(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """postmark.W001, for a project that serves the webhook views (anywhere in its URLconf):
    a project that only sends has no webhook to protect, and is not told to. It names exactly
    the settings still to set."""
    missing = missing_settings()
    if not missing or not webhooks_mounted():
        return []
    names = " and ".join(missing)
    if len(missing) == 2 and secret_required():
        problem = (
            f"{names} are not set: the inbound view accepts requests from anyone (the secret "
            "header protects outbound events only: Postmark cannot set it on inbound mail)."
        )
    elif len(missing) == 2:
        problem = f"{names} are not set: the webhook views accept requests from anyone."
    else:
        # Half a pair: the views take the missing half as empty, so knowing the other is enough.
        problem = (
            f"{names} is not set, while the other half of the webhook's basic-auth credentials "
            "is: the webhook views accept it empty."
        )
    return [
        Warning(
            problem,
            hint=f"Set {names}, and put the credentials in the webhook URL you give Postmark: "
            "https://user:password@your-host/postmark/bounce/",
            id="postmark.W001",
        )
    ]


def webhooks_mounted() -> bool:
    """Whether the project's URLconf routes to a webhook view (a loop, not recursion)."""
    if not getattr(settings, "ROOT_URLCONF", None):
        return False  # a project without URLs (a worker's settings, a test runner's) serves none
    pending: list[URLPattern | URLResolver] = [get_resolver()]
    while pending:
        entry = pending.pop()
        if isinstance(entry, URLResolver):
            pending.extend(entry.url_patterns)
        elif entry.callback in (outbound_hook, inbound_hook):
            return True
    return False


def _email_backends() -> list[str]:
    """The configured email backends: MAILERS (Django 6.1+) if set, else EMAIL_BACKEND."""
    mailers = getattr(settings, "MAILERS", None) if settings.is_overridden("MAILERS") else None
    if mailers:
        return [str(config.get("BACKEND", "")) for config in mailers.values()]
    # Read only when set: on Django 6.1 merely reading EMAIL_BACKEND warns of its deprecation.
    if settings.is_overridden("EMAIL_BACKEND"):
        return [str(getattr(settings, "EMAIL_BACKEND", ""))]
    return []


@register()
def check_import_name(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Another distribution's ``postmark`` package installed over or beside this one."""
    others = other_distributions()
    if not others:
        return []
    return [
        Error(
            f"{', '.join(others)} also installed a package named 'postmark': it and this app "
            "overwrite each other's files.",
            hint=REMEDY,
            id="postmark.E010",
        )
    ]


@register(Tags.database)
def check_migrated(
    app_configs: Any = None, databases: Any = None, **kwargs: Any
) -> list[CheckMessage]:
    """postmark.W020: this app's migrations have not run, so sending raises and the webhooks are
    answered 503. A database check: Django runs it for ``check --database NAME`` and before
    ``migrate`` (and the test runner, once its databases exist), never at import time without
    a database. A warning, not an error: ``migrate`` runs the checks first and an error would
    stop the very command that fixes it."""
    messages: list[CheckMessage] = []
    for alias in databases or ():
        if not holds_tables(alias):
            continue  # the project's routers keep this app's tables elsewhere
        try:
            unapplied, total = migration_state(alias)
        except OperationalError:
            continue  # no connection: Django's own checks and the command say so
        if not unapplied:
            continue
        if len(unapplied) == total:
            problem = f"django-postmark's tables do not exist in database {alias!r}"
        else:
            problem = (
                f"{len(unapplied)} of django-postmark's migrations are not applied to database "
                f"{alias!r} ({', '.join(unapplied)})"
            )
        messages.append(
            Warning(
                f"{problem}: until migrate has run, sending raises ImproperlyConfigured and the "
                "webhook views answer 503.",
                hint=f"Run `{migrate_command(alias)}`.",
                id="postmark.W020",
            )
        )
    return messages


@register()
def check_sender(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """postmark.W021 (DEFAULT_FROM_EMAIL) and W022 (SERVER_EMAIL, when Django mails ADMINS or
    MANAGERS): a sender Postmark refuses on every send, Django's defaults first of all."""
    if not _sends_through_postmark():
        return []
    senders = [("DEFAULT_FROM_EMAIL", "postmark.W021")]
    if getattr(settings, "ADMINS", None) or getattr(settings, "MANAGERS", None):
        senders.append(("SERVER_EMAIL", "postmark.W022"))
    messages: list[CheckMessage] = []
    for name, check_id in senders:
        problem = _sender_problem(name, str(getattr(settings, name, "")))
        if problem:
            messages.append(
                Warning(
                    f"{name} {problem}: Postmark refuses every message sent from it.",
                    hint=f"Set {name} to an address of a confirmed Sender Signature or of a "
                    'verified domain in Postmark, e.g. "Your Site <you@your-domain.com>".',
                    id=check_id,
                )
            )
    return messages


def _sender_problem(name: str, value: str) -> str:
    if value == getattr(global_settings, name):
        return f"is Django's default, {value!r}"
    try:
        address = format_address(value, name)
    except UnsupportedMessageError:
        return f"is {value!r}, not one email address"
    domain = bare_address(address).rpartition("@")[2]
    if not can_send_from(domain):
        return f"is {value!r}, on a domain no Postmark account can send from ({domain!r})"
    return ""


def _sends_through_postmark() -> bool:
    """Whether a configured email backend sends to Postmark: PostmarkBackend or a subclass (the
    queued one), but not the test backend, which keeps the messages in memory."""
    for path in _email_backends():
        try:
            backend = import_string(path)
        except ImportError:
            continue  # Django says so when the backend is used
        if (
            isinstance(backend, type)
            and issubclass(backend, PostmarkBackend)
            and not issubclass(backend, PostmarkTestBackend)
        ):
            return True
    return False
