"""``manage.py demo_admin``: make sure the demo's admin login exists, and print it."""

from __future__ import annotations

import os
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create (or reset) the demo admin user and print its login."

    def handle(self, *args: Any, **options: Any) -> None:
        username = os.environ.get("EXAMPLE_ADMIN_USER") or "admin"
        password = os.environ.get("EXAMPLE_ADMIN_PASSWORD") or "postmark-demo"
        user, _ = get_user_model().objects.get_or_create(
            username=username, defaults={"email": f"{username}@example.com"}
        )
        user.is_staff = user.is_superuser = True
        user.set_password(password)  # reset, so the printed login always works
        user.save()
        self.stdout.write(f"Admin login: {username} / {password}")
