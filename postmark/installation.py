"""Is this ``postmark`` package the one Django loads, installed as an app, and alone?

Two other distributions install a top-level package named ``postmark``: python-postmark and
Postmark's own SDK (postmark-python). Installed beside this one they overwrite each other's files
and ``pip check`` says nothing, so the mistake surfaces here, in words, instead of as an
``ImportError`` from deep inside whichever half was overwritten.
"""

from __future__ import annotations

import re
from importlib.metadata import packages_distributions

from django.apps import apps
from django.core.exceptions import ImproperlyConfigured

import postmark

DISTRIBUTION = "django-postmark"
IMPORT_NAME = "postmark"
REMEDY = (
    "They cannot share one environment: `pip uninstall` every one of them, then "
    "`pip install django-postmark` again."
)


def other_distributions() -> list[str]:
    """Installed distributions other than this one that provide the ``postmark`` package."""
    found = packages_distributions().get(IMPORT_NAME, [])
    return sorted({name for name in found if _normalise(name) != DISTRIBUTION})


def require_own_package() -> None:
    """Raise if ``postmark/__init__.py`` is another distribution's (it overwrote ours)."""
    if getattr(postmark, "__distribution__", None) != DISTRIBUTION:
        others = ", ".join(other_distributions()) or "another distribution"
        raise ImproperlyConfigured(
            f"The 'postmark' package Django imported is not django-postmark's: {others} "
            f"installed its own 'postmark' over it. {REMEDY}"
        )


def require_installed_app() -> None:
    """Raise if Django has loaded its apps without this one: nothing would log the messages,
    skip suppressed addresses or store webhooks, and the models would have no tables."""
    if apps.ready and not apps.is_installed(IMPORT_NAME):
        raise ImproperlyConfigured(
            'django-postmark is used but "postmark" is not in INSTALLED_APPS: add it, then run '
            "`python manage.py migrate`."
        )


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()
