"""``path("postmark/", include("postmark.urls"))``: Postmark's webhook URLs."""

from django.urls import path

from . import views

urlpatterns = [
    # The path and name the original django-postmark used; takes every outbound event kind.
    path("bounce/", views.outbound_hook, name="postmark_bounce_hook"),
    path("events/", views.outbound_hook, name="postmark_events_hook"),
    path("inbound/", views.inbound_hook, name="postmark_inbound_hook"),
]
