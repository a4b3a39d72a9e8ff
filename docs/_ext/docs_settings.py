"""The Django settings the documentation build imports postmark with: the app installed and
nothing else. No POSTMARK_* setting is set here, so the settings reference shows the defaults
the code declares."""

SECRET_KEY = "docs-build-only"
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "postmark"]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
