"""The example's pages: send a message, and watch it, its bounces and suppressions live; against
the local sandbox, lose Postmark's answer to a send on purpose and watch the worker settle it.

They send with the owner's server token and show every recipient, so they are for signed-in
staff only, even against the local sandbox (a demo left reachable from the network is still an
open relay otherwise). Postmark's webhooks (/postmark/) have their own basic auth.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import LoginView, redirect_to_login
from django.core.mail import EmailMessage
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from requests import RequestException

from postmark.exceptions import PostmarkError
from postmark.models import Bounce, Message, Suppression

from .forms import (
    BOUNCE_TESTING,
    LOST_ANSWER_TO,
    LOST_ANSWERS,
    LostAnswerForm,
    SendForm,
    bounce_testing_address,
)
from .local import is_local_sandbox, plan_fault

SHOWN = 20
REAL_POSTMARK = "api.postmarkapp.com"


@dataclass
class Row:
    """One line of the messages table: a logged Message (a queued one from the moment it is
    queued)."""

    created_at: datetime
    to: str
    subject: str
    status: str
    settled: str
    answer: str
    message_id: str
    admin_url: str


View = Callable[..., HttpResponse]


def staff_only(view: View) -> View:
    """Active staff get the view; anyone else is sent to sign in (a page) or refused (a form
    post, or the live part the page fetches), before the view reads or sends anything."""

    @wraps(view)
    def checked(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        user = request.user
        if user.is_active and user.is_staff:
            return view(request, *args, **kwargs)
        if request.method in ("GET", "HEAD"):
            return redirect_to_login(request.get_full_path(), "login")
        return HttpResponseForbidden("Staff only: sign in first.", content_type="text/plain")

    return checked


class SignIn(LoginView):
    template_name = "example/login.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        # Where the login comes from: make demo prints one; against Postmark you make your own.
        local = is_local_sandbox(settings.POSTMARK_API_URL)
        return super().get_context_data(local_sandbox=local, **kwargs)


@staff_only
@require_GET
def index(request: HttpRequest) -> HttpResponse:
    api_url = settings.POSTMARK_API_URL
    context = {
        "form": SendForm(),
        "quick": [(name, bounce_testing_address(name)) for name in BOUNCE_TESTING],
        "api_url": api_url,
        "sandbox_url": sandbox_url(),
        "backend": settings.EMAIL_BACKEND,
        "time_zone": settings.TIME_ZONE,
        # Never offered against real Postmark, whose answers cannot be lost on purpose.
        "lost_answers": LOST_ANSWERS.items() if is_local_sandbox(api_url) else None,
        "lost_answer_to": LOST_ANSWER_TO,
        "settle_after": f"{settings.POSTMARK_SETTLE_AFTER:g}",
        "not_found_after": f"{settings.POSTMARK_SETTLE_NOT_FOUND_AFTER:g}",
        "not_found_resent": settings.POSTMARK_SETTLE_NOT_FOUND == "resend",
        "worker": settings.EMAIL_BACKEND.endswith(".QueuedPostmarkBackend"),
        **_live(),
    }
    return render(request, "example/index.html", context)


@staff_only
@require_GET
def live(request: HttpRequest) -> HttpResponse:
    """The part of the page the browser refreshes every second or two."""
    return render(request, "example/live.html", _live())


@staff_only
@require_POST
def send(request: HttpRequest) -> HttpResponse:
    data = request.POST.copy()
    if data.get("quick"):  # a quick button names its address and takes the default text
        data.update({"to": data["quick"]})
        data.setdefault("subject", SendForm.base_fields["subject"].initial)
        data.setdefault("body", SendForm.base_fields["body"].initial)
    form = SendForm(data)
    if not form.is_valid():
        for field, errors in form.errors.items():
            messages.error(request, f"{field}: {' '.join(errors)}")
        return redirect("index")
    message = EmailMessage(
        form.cleaned_data["subject"], form.cleaned_data["body"], to=[form.cleaned_data["to"]]
    )
    return _send_and_tell(request, message)


@staff_only
@require_POST
def lose_answer(request: HttpRequest) -> HttpResponse:
    """Have the local sandbox lose the answer to the next sending call (a fault the button
    names), then send a message: its outcome is "unknown", and the worker settles it
    POSTMARK_SETTLE_AFTER seconds later. Refused unless the API is the local sandbox."""
    api_url: str = settings.POSTMARK_API_URL
    if not is_local_sandbox(api_url):
        return HttpResponseForbidden(
            "Answers are lost on purpose by the local sandbox only; POSTMARK_API_URL is not it.",
            content_type="text/plain",
        )
    form = LostAnswerForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"fault: {' '.join(form.errors.get('fault', []))}")
        return redirect("index")
    fault = form.cleaned_data["fault"]
    try:
        plan_fault(api_url, fault)
    except (RequestException, ValueError, KeyError) as exc:
        messages.error(request, f"The sandbox did not take the fault ({exc}); nothing was sent.")
        return redirect("index")
    what = LOST_ANSWERS[fault]
    body = (
        f'Sent while the sandbox played "{what}": the app cannot know whether Postmark has this '
        "message, so it searches for it by the id in its Metadata."
    )
    message = EmailMessage(f"Lost answer: {what}", body, to=[LOST_ANSWER_TO])
    return _send_and_tell(request, message, f"The sandbox's next sending call: {what.lower()}. ")


def _send_and_tell(request: HttpRequest, message: EmailMessage, before: str = "") -> HttpResponse:
    """Send with the site's backend; its result in a message on the page it goes back to."""
    try:
        message.send()
    except PostmarkError as exc:
        messages.error(request, f"Not sent: {exc}")
        return redirect("index")
    result = getattr(message, "postmark", None)
    status = result.status if result is not None else "sent"
    messages.success(request, f"{before}Message to {', '.join(message.to)}: {status}.")
    return redirect("index")


def sandbox_url() -> str | None:
    """The sandbox's page: it serves one at the API's root; real Postmark does not."""
    api_url: str = settings.POSTMARK_API_URL
    return None if urlsplit(api_url).hostname == REAL_POSTMARK else api_url.rstrip("/") + "/"


def _live() -> dict[str, object]:
    return {
        "rows": _message_rows(),
        "shown": SHOWN,
        "bounces": Bounce.objects.order_by("-pk")[:SHOWN],
        "suppressions": Suppression.objects.active().order_by("-pk")[:SHOWN],
    }


def _message_rows() -> list[Row]:
    """The newest logged messages: a queued message is logged (status "queued") when it is
    queued, and the worker's send updates that same row, so one query shows each message once."""
    return [
        Row(
            m.created_at,
            m.to,
            m.subject,
            m.status,
            _settled(m),
            m.error,
            str(m.message_id or ""),
            reverse("admin:postmark_message_change", args=[m.pk]),
        )
        # Not the bodies or the request kept to resend (up to 10 MB each): the page refreshes
        # this table every 1.5 s.
        for m in Message.objects.defer("payload", "text_body", "html_body").order_by(
            "-created_at", "-pk"
        )[:SHOWN]
    ]


def _settled(m: Message) -> str:
    """How a message whose send's answer was lost ended, in a few words ("" for any other)."""
    if m.settlement:
        return {
            "found": "settled: found by search",
            "resent": "settled: not found, resent",
            "failed": "settled: not found",
        }.get(m.settlement, f"settled: {m.settlement}")
    if m.status == Message.Status.UNKNOWN:
        return "to be searched for"
    if m.unknown_since is not None:
        return "settled by a webhook naming it"
    return ""
