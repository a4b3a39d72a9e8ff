"""System checks of inbound mail's settings (registered when ``PostmarkConfig.ready()`` imports
this module): each names the setting at fault."""

from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage, Error, Warning, register
from django.core.exceptions import ImproperlyConfigured

from ..conf import settings
from ..queue.queueing import queue_problem
from .mailboxes import Mailbox
from .routes import configured_routes, route_problems
from .scheduling import processing_mode

_HINT = "See the documentation's Inbound mail page, Routes."


@register()
def check_inbound(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """postmark.E030 (a route that cannot be read), E031 (POSTMARK_INBOUND_PROCESSING), E032
    (processing on a task queue that cannot take the task), W030 (a route's mailbox has no
    receiver: its mail would fail)."""
    problems = route_problems()
    messages: list[CheckMessage] = [Error(p, hint=_HINT, id="postmark.E030") for p in problems]
    try:
        mode = processing_mode()
    except ImproperlyConfigured as exc:
        messages.append(Error(str(exc), id="postmark.E031"))
        mode = ""
    if problems or not settings.POSTMARK_INBOUND_STORE:
        return messages
    routes = configured_routes()
    queue = queue_problem() if routes and mode == "task" else None
    if queue is not None:
        messages.append(
            Error(
                f"Inbound mail is processed on the task queue (POSTMARK_INBOUND_PROCESSING is "
                f'"task"), which cannot take its task: {queue[1]}',
                hint='Fix the queue settings, or set POSTMARK_INBOUND_PROCESSING = "sync".',
                id="postmark.E032",
            )
        )
    for name in dict.fromkeys(route.mailbox for route in routes):
        if not Mailbox.named(name).has_receivers:
            messages.append(
                Warning(
                    f"POSTMARK_INBOUND_ROUTES routes mail to the mailbox {name!r}, which has no "
                    "receiver: its mail will fail (kept, to reprocess once one is connected).",
                    hint=f"Connect one with @postmark.inbound.mailbox({name!r}) in a module your "
                    "AppConfig.ready() imports.",
                    id="postmark.W030",
                )
            )
    return messages
