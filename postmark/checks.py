"""System checks: misconfiguration is reported by ``manage.py check``, naming the setting."""

from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage, Error, Tags, Warning, register
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils.module_loading import import_string

from .backends import QueuedPostmarkBackend
from .conf import settings
from .facts import TRACK_LINKS_VALUES
from .installation import REMEDY, other_distributions
from .queue.queueing import queue_problem
from .webhooks.auth import webhook_credentials
from .webhooks.views import inbound_hook, outbound_hook


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
    a project that only sends has no webhook to protect, and is not told to."""
    # One of the pair without the other is a mistake too: the views would expect an empty one.
    half_set = bool(settings.POSTMARK_API_USER) != bool(settings.POSTMARK_API_PASSWORD)
    if (webhook_credentials() and not half_set) or not _webhooks_mounted():
        return []
    return [
        Warning(
            "POSTMARK_API_USER and POSTMARK_API_PASSWORD (the webhook's basic-auth credentials) "
            "are not set: the webhook views accept requests from anyone.",
            hint="Set both, and put them in the webhook URL: https://user:pass@host/postmark/bounce/",
            id="postmark.W001",
        )
    ]


def _webhooks_mounted() -> bool:
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
