"""Every route of the example site's URLconf as a path to request, made concrete with the ids
of rows that exist (the admin pages of a model open its first row). Run inside the example
(``manage.py shell -c "from tests.support.example_routes import print_routes; print_routes()"``)
so that its settings, apps and admin registrations are the ones enumerated."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.urls import URLPattern, URLResolver, get_resolver, resolve

from postmark.models import Message

MARKER = "ROUTES "
REGEX_GROUP = re.compile(r"\(\?P<(\w+)>[^)]*\)")
CONVERTER = re.compile(r"<(?:\w+:)?(\w+)>")


def walk(patterns: Sequence[Any], prefix: str = "") -> Iterator[tuple[str, URLPattern]]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
        else:
            yield prefix + str(pattern.pattern), pattern


def value(name: str, callback: Callable[..., Any]) -> str:
    admin = getattr(callback, "model_admin", None)
    if name in ("object_id", "id") and admin is not None:
        first = admin.model._default_manager.order_by("pk").values_list("pk", flat=True).first()
        return str(first or 1)
    if name == "content_type_id":
        return str(ContentType.objects.get_for_model(Message).pk)
    return {"app_label": "postmark", "url": "nothing-here/"}.get(name, "1")


def concrete_routes() -> list[tuple[str, str]]:
    found = []
    for route, pattern in walk(get_resolver().url_patterns):

        def fill(match: re.Match[str], callback: Callable[..., Any] = pattern.callback) -> str:
            return value(match.group(1), callback)

        path = CONVERTER.sub(fill, REGEX_GROUP.sub(fill, route))
        path = "/" + path.replace("^", "").replace("$", "").replace("\\Z", "")
        # Made wrongly, a path would test another view than the one it stands for.
        assert resolve(path).func is pattern.callback, (route, path)
        found.append((route, path))
    return found


def print_routes() -> None:
    print(MARKER + json.dumps(concrete_routes()))
