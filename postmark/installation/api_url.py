"""The check of POSTMARK_API_URL (``postmark.conf`` runs it when the settings are read, the
client again for a URL given to it), apart from the settings so that they read as a list."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured


def checked_api_url(value: Any) -> str:
    """``value`` if it is a URL the API client can post to, else ImproperlyConfigured naming
    POSTMARK_API_URL. Without this, a URL without a scheme fails every send with requests' "No
    connection adapters were found". The URL itself is not repeated: it may hold credentials."""
    example = "e.g. https://api.postmarkapp.com, or http://127.0.0.1:8025 for the sandbox"
    if not isinstance(value, str):
        raise ImproperlyConfigured(f"POSTMARK_API_URL must be a URL ({example}).")
    problem = _url_problem(value)
    if problem:
        raise ImproperlyConfigured(f"POSTMARK_API_URL {problem}: write it as a URL, {example}.")
    return value


def _url_problem(url: str) -> str:
    if not url.isprintable() or any(char.isspace() for char in url):
        return "holds a space or a control character"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises for a port that is not a number from 0 to 65535)
    except ValueError:
        return "is not a valid URL"
    if not parts.scheme or not url.lower().startswith(parts.scheme.lower() + "://"):
        return "has no scheme (http:// or https://)"
    if parts.scheme.lower() not in ("http", "https"):
        return f"has the scheme {parts.scheme!r}; only http and https can reach the API"
    if "@" in parts.netloc:
        return "holds credentials: the server token goes in POSTMARK_API_KEY, never in the URL"
    if not parts.hostname:
        return "has no host"
    if "?" in url or "#" in url:
        return "has a query or a fragment (what follows ? or #), which the API paths cannot follow"
    return ""
