"""``path("postmark/", include("postmark.urls"))``: Postmark's webhook URLs."""

from django.urls import path

from .webhooks import views

urlpatterns = [
    # The path and name the original django-postmark used; takes every outbound event kind.
    path("bounce/", views.outbound_hook, name="postmark_bounce_hook"),
    path("events/", views.outbound_hook, name="postmark_events_hook"),
    path("inbound/", views.inbound_hook, name="postmark_inbound_hook"),
    # The same without the trailing slash: a URL pasted into Postmark without it would otherwise
    # meet APPEND_SLASH, which cannot redirect a POST (a 500 in DEBUG, a 404 without).
    path("bounce", views.outbound_hook),
    path("events", views.outbound_hook),
    path("inbound", views.inbound_hook),
]
