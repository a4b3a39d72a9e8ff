"""The bounce and suppression endpoints."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

from ..api.spec import DEFAULT_STREAM
from .http import HTTPClient, query


class BounceEndpoints(HTTPClient):
    def get_bounces(self, *, count: int = 500, offset: int = 0, **filters: Any) -> dict[str, Any]:
        """``GET /bounces``: ``{"TotalCount", "Bounces"}``; filters use Postmark's names."""
        params = {"count": count, "offset": offset, **query(filters)}
        answer: dict[str, Any] = self.request("GET", "/bounces", params=params)
        return answer

    def iter_bounces(self, **filters: Any) -> Iterable[dict[str, Any]]:
        """Every bounce matching the filters, paging 500 at a time."""
        offset = 0
        while True:
            page = self.get_bounces(count=500, offset=offset, **filters)
            bounces = page.get("Bounces") or []
            yield from bounces
            offset += len(bounces)
            if not bounces or offset >= int(page.get("TotalCount") or 0):
                return

    def get_bounce(self, bounce_id: int) -> dict[str, Any]:
        answer: dict[str, Any] = self.request("GET", f"/bounces/{int(bounce_id)}")
        return answer

    def get_bounce_dump(self, bounce_id: int) -> str:
        answer = self.request("GET", f"/bounces/{int(bounce_id)}/dump")
        return str(answer.get("Body") or "")

    def activate_bounce(self, bounce_id: int) -> dict[str, Any]:
        answer: dict[str, Any] = self.request("PUT", f"/bounces/{int(bounce_id)}/activate")
        return answer

    # --- Suppressions -------------------------------------------------------------------------

    def get_suppressions(
        self, stream: str = DEFAULT_STREAM, **filters: Any
    ) -> list[dict[str, Any]]:
        answer = self.request(
            "GET",
            f"/message-streams/{quote(stream, safe='')}/suppressions/dump",
            params=query(filters),
        )
        suppressions: list[dict[str, Any]] = answer.get("Suppressions") or []
        return suppressions

    def create_suppressions(self, emails: Iterable[str], stream: str = DEFAULT_STREAM) -> list[Any]:
        return self._suppressions(f"/message-streams/{quote(stream, safe='')}/suppressions", emails)

    def delete_suppressions(self, emails: Iterable[str], stream: str = DEFAULT_STREAM) -> list[Any]:
        path = f"/message-streams/{quote(stream, safe='')}/suppressions/delete"
        return self._suppressions(path, emails)

    def _suppressions(self, path: str, emails: Iterable[str]) -> list[Any]:
        body = {"Suppressions": [{"EmailAddress": email} for email in emails]}
        answer = self.request("POST", path, json_body=body)
        statuses: list[Any] = answer.get("Suppressions") or []
        return statuses
