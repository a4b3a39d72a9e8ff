from django.contrib import admin
from django.contrib.auth.views import LogoutView
from django.urls import include, path

from . import posts, views

urlpatterns = [
    path("", views.index, name="index"),
    path("send/", views.send, name="send"),
    path("live/", views.live, name="live"),
    # Against the local sandbox only: a send whose answer is lost on purpose, then settled.
    path("lose-answer/", views.lose_answer, name="lose_answer"),
    # Comments by email: publish a post; a reply to its notification becomes a comment.
    path("posts/", posts.posts, name="posts"),
    path("posts/live/", posts.posts_live, name="posts_live"),
    path("posts/publish/", posts.publish, name="publish"),
    path("login/", views.SignIn.as_view(), name="login"),
    path("logout/", LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    # Postmark's webhooks: /postmark/bounce/ takes every outbound event kind, and
    # /postmark/inbound/ the inbound mail (the replies).
    path("postmark/", include("postmark.urls")),
]
