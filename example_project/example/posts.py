"""Comments by email: publish a post and notify a reader, whose reply to the notification becomes
a comment (``mailboxes.py``); and watch the inbound mail arrive and be processed.

The notification's Reply-To is the post's signed reply address (``set_reply_address``): only
this site can make one, so a reply to it can only comment on that post. Staff only, as every page
of the example: publishing sends mail, and the page shows who wrote in.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.mail import EmailMessage
from django.db.models import Count, Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from postmark.exceptions import PostmarkError
from postmark.inbound.replies import set_reply_address
from postmark.models import InboundMessage

from .forms import PublishForm
from .models import Comment, Post
from .views import sandbox_url, staff_only

SHOWN_POSTS = 10
SHOWN_COMMENTS = 20
SHOWN_INBOUND = 20


@staff_only
@require_GET
def posts(request: HttpRequest) -> HttpResponse:
    context = {"form": PublishForm(), "sandbox_url": sandbox_url(), **_live()}
    return render(request, "example/posts.html", context)


@staff_only
@require_GET
def posts_live(request: HttpRequest) -> HttpResponse:
    """The part of the page the browser refreshes: comments arrive as the worker runs."""
    return render(request, "example/posts_live.html", _live())


@staff_only
@require_POST
def publish(request: HttpRequest) -> HttpResponse:
    form = PublishForm(request.POST)
    if not form.is_valid():
        for field, errors in form.errors.items():
            messages.error(request, f"{field}: {' '.join(errors)}")
        return redirect("posts")
    title, to = form.cleaned_data["title"], form.cleaned_data["to"]
    post = Post.objects.create(title=title, text=form.cleaned_data["text"])
    notification = EmailMessage(
        f"New post: {title}",
        f"{post.text}\n\n-- \nReply to this email to comment: your reply appears under the post.",
        to=[to],
    )
    address = set_reply_address(notification, post, name="Example blog comments")
    try:
        notification.send()
    except PostmarkError as exc:
        messages.error(request, f"Published \u201c{title}\u201d; the notification failed: {exc}")
        return redirect("posts")
    result = getattr(notification, "postmark", None)
    status = result.status if result is not None else "sent"
    messages.success(
        request,
        f"Published \u201c{title}\u201d. Notification to {to}: {status}. Replies to {address} "
        "become comments.",
    )
    return redirect("posts")


def _live() -> dict[str, object]:
    newest_comments = Comment.objects.order_by("-created_at", "-pk")
    return {
        # Each post with its newest comments only: one query for all, whatever their number.
        "posts": Post.objects.annotate(comment_count=Count("comments")).prefetch_related(
            # A sliced prefetch needs its own attribute (Django refuses to filter a slice).
            Prefetch(
                "comments", queryset=newest_comments[:SHOWN_COMMENTS], to_attr="newest_comments"
            )
        )[:SHOWN_POSTS],
        "inbound": InboundMessage.objects.order_by("-received_at", "-pk")[:SHOWN_INBOUND],
        "shown_comments": SHOWN_COMMENTS,
    }
