"""What every page of the app's admin does with its query string: a hostile value gets a 4xx
or is ignored, never a 500.

- NUL anywhere in it answers 400: PostgreSQL refuses NUL in any query (psycopg raises before
  the query is sent), and no row of the app holds one (stored text is cleaned of it), so a
  filter by it could only ever match nothing.
- An empty ``?_to_field=`` on a change page: Django looks the empty name up as a field. It
  means no field, as its absence does.
- A date-hierarchy year Python's dates cannot hold (``?created_at__year=99999999999``, or 9999,
  whose next year is out of range) is a wrong lookup, which the admin answers as it answers any
  other: a redirect to the plain list (``?e=1``). Django's ChangeList lets these raise.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ChangeList
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest


def has_nul(request: HttpRequest) -> bool:
    return any(
        "\x00" in key or any("\x00" in value for value in values)
        for key, values in request.GET.lists()
    )


def refuse_nul() -> HttpResponse:
    return HttpResponseBadRequest(
        "A query parameter holds a NUL character.", content_type="text/plain; charset=utf-8"
    )


class CheckedChangeList(ChangeList):
    def get_filters(self, request: HttpRequest) -> Any:
        try:
            return super().get_filters(request)
        except (ValueError, OverflowError) as exc:
            raise IncorrectLookupParameters(exc) from exc


class CheckedQueries(admin.ModelAdmin):
    """The base of every model admin here: see the module's docstring."""

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return CheckedChangeList

    def get_object(
        self, request: HttpRequest, object_id: str, from_field: str | None = None
    ) -> Any:
        return super().get_object(request, object_id, from_field or None)

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        if has_nul(request):
            return refuse_nul()
        return super().changelist_view(request, extra_context)
