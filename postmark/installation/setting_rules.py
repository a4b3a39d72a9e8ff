"""What a setting's value must be, for ``postmark.conf``: the ``Secret`` strings credentials are
kept as, and the checks of values that would otherwise fail far from the setting (a URL without a
scheme, a byte count that is not a number). Each names the setting; none repeats a secret.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

#: The Metadata field of each message's generated id, unless POSTMARK_LINK_FIELD names another.
DEFAULT_LINK_FIELD = "django-postmark-id"
#: What POSTMARK_LINK_FIELD may be: Postmark takes metadata names of up to 20 characters, and
#: the name goes into a query string (``metadata_<name>=<id>``) when the message is searched for.
_LINK_FIELD = re.compile(r"[A-Za-z0-9_-]{1,20}")


class Secret(str):
    """A string like any other, except that its ``repr()`` (what Django's error reports,
    ``diffsettings``, ``%r`` and debuggers show) is stars."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "'********************'"


def conceal(value: Any) -> Any:
    """``value`` with every string in it (in lists, tuples and dicts too) made a ``Secret``."""
    if isinstance(value, str):
        return value if isinstance(value, Secret) else Secret(value)
    if isinstance(value, list | tuple):
        return type(value)(conceal(item) for item in value)
    if isinstance(value, dict):
        return {conceal(key): conceal(item) for key, item in value.items()}
    return value


def exposed(value: Any) -> bool:
    """Whether a string in ``value`` is not a ``Secret`` yet."""
    if isinstance(value, str):
        return not isinstance(value, Secret)
    if isinstance(value, list | tuple):
        return any(exposed(item) for item in value)
    if isinstance(value, dict):
        return any(exposed(key) or exposed(item) for key, item in value.items())
    return False


def checked_api_url(value: Any) -> str:
    """``value`` if it is a URL the API client can post to, else ImproperlyConfigured naming
    POSTMARK_API_URL. Without this, a URL without a scheme fails every send with requests' "No
    connection adapters were found". The URL itself is not repeated: it may hold credentials."""
    example = "e.g. https://api.postmarkapp.com, or http://127.0.0.1:8025 for the sandbox"
    if not isinstance(value, str):
        raise ImproperlyConfigured(f"POSTMARK_API_URL must be a URL ({example}).")
    problem = url_problem(value)
    if problem:
        raise ImproperlyConfigured(f"POSTMARK_API_URL {problem}: write it as a URL, {example}.")
    return value


def url_problem(url: str) -> str:
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


def byte_count(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ImproperlyConfigured(f"{name} must be a whole number of bytes, e.g. 1024 * 1024.")
    return value


def seconds(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1e9:
        raise ImproperlyConfigured(f"{name} must be a number of seconds, 0 or more.")
    return float(value)


def checked_link_field(value: Any) -> str:
    if not isinstance(value, str) or not _LINK_FIELD.fullmatch(value):
        raise ImproperlyConfigured(
            "POSTMARK_LINK_FIELD must be a metadata name of 1 to 20 letters, digits, - or _ "
            f'(Postmark\'s limit), e.g. "{DEFAULT_LINK_FIELD}".'
        )
    return value
