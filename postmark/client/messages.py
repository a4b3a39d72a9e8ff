"""The Messages API: searching the messages the server sent."""

from __future__ import annotations

from typing import Any

from ..api.spec import MAX_SEARCH_COUNT, MAX_SEARCH_WINDOW
from .http import HTTPClient, query


class MessageEndpoints(HTTPClient):
    def search_outbound(
        self,
        *,
        count: int = MAX_SEARCH_COUNT,
        offset: int = 0,
        metadata: tuple[str, str] | None = None,
        **filters: Any,
    ) -> dict[str, Any]:
        """``GET /messages/outbound``: ``{"TotalCount", "Messages"}``, newest first.

        ``filters`` take Postmark's names (``recipient``, ``fromemail``, ``tag``, ``status``,
        ``subject``, ``messagestream``, ``fromdate``, ``todate``: dates in US Eastern time, see
        ``postmark.api.timestamps.eastern_time``); ``metadata=(name, value)`` finds the messages
        whose Metadata has that value under that name (Postmark searches one field at a time).
        Postmark pages at most 500 messages (``count``), and no further than 10,000 in all.
        """
        if not 1 <= count <= MAX_SEARCH_COUNT or offset < 0 or count + offset > MAX_SEARCH_WINDOW:
            raise ValueError(
                f"Postmark's search takes a count from 1 to {MAX_SEARCH_COUNT} and an offset "
                f"from 0, with count + offset at most {MAX_SEARCH_WINDOW}."
            )
        params = {"count": count, "offset": offset, **query(filters)}
        if metadata is not None:
            name, value = metadata
            params[f"metadata_{name}"] = value
        answer: dict[str, Any] = self.request("GET", "/messages/outbound", params=params)
        return answer
