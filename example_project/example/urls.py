from django.contrib import admin
from django.contrib.auth.views import LogoutView
from django.urls import include, path

from . import views

urlpatterns = [
    path("", views.index, name="index"),
    path("send/", views.send, name="send"),
    path("live/", views.live, name="live"),
    path("login/", views.SignIn.as_view(), name="login"),
    path("logout/", LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    # Postmark's webhooks: /postmark/bounce/ takes every outbound event kind.
    path("postmark/", include("postmark.urls")),
]
