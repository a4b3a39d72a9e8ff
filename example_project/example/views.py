"""The example's pages: send a message, and watch it, its bounces and suppressions live."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.mail import EmailMessage
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from postmark.exceptions import PostmarkError
from postmark.models import Bounce, Message, Suppression

from .forms import BOUNCE_TESTING, SendForm, bounce_testing_address

SHOWN = 20


@require_GET
def index(request: HttpRequest) -> HttpResponse:
    context = {
        "form": SendForm(),
        "quick": [(name, bounce_testing_address(name)) for name in BOUNCE_TESTING],
        "api_url": settings.POSTMARK_API_URL,
        "backend": settings.EMAIL_BACKEND,
        **_live(),
    }
    return render(request, "example/index.html", context)


@require_GET
def live(request: HttpRequest) -> HttpResponse:
    """The part of the page the browser refreshes every second or two."""
    return render(request, "example/live.html", _live())


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
    try:
        message.send()
    except PostmarkError as exc:
        messages.error(request, f"Not sent: {exc}")
        return redirect("index")
    result = getattr(message, "postmark", None)
    status = result.status if result is not None else "sent"
    messages.success(request, f"Message to {form.cleaned_data['to']}: {status}.")
    return redirect("index")


def _live() -> dict[str, object]:
    return {
        "sent_messages": Message.objects.order_by("-created_at", "-pk")[:SHOWN],
        "bounces": Bounce.objects.order_by("-pk")[:SHOWN],
        "suppressions": Suppression.objects.active().order_by("-pk")[:SHOWN],
    }
