"""``manage.py demo_admin``: make sure the demo's admin login exists, and print it.

Only for the local sandbox: the password is EXAMPLE_ADMIN_PASSWORD, or random, made once per
database and kept beside it (0600) so that every run of ``make demo`` prints the same login.
Against real Postmark nobody is created: make your own staff user (``createsuperuser``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from example.local import is_local_sandbox, kept_secret


class Command(BaseCommand):
    help = "Create (or reset) the demo admin user and print its login: local sandbox only."

    def handle(self, *args: Any, **options: Any) -> None:
        if not is_local_sandbox(settings.POSTMARK_API_URL):
            raise CommandError(
                f"POSTMARK_API_URL is {settings.POSTMARK_API_URL}, not the local sandbox: "
                "demo_admin makes no login there. Create your own with `manage.py createsuperuser`."
            )
        username = os.environ.get("EXAMPLE_ADMIN_USER") or "admin"
        password = os.environ.get("EXAMPLE_ADMIN_PASSWORD") or kept_secret(
            Path(str(settings.DATABASES["default"]["NAME"]) + "-demo-login"), nbytes=12
        )
        user, _ = get_user_model().objects.get_or_create(
            username=username, defaults={"email": f"{username}@example.com"}
        )
        user.is_staff = user.is_superuser = user.is_active = True
        # Set only when it differs: a new hash would sign out the browser of the last run.
        if not user.check_password(password):
            user.set_password(password)
        user.save()
        self.stdout.write(f"Admin login: {username} / {password}")
