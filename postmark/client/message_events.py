"""The Messages API's event endpoints: one message's details and events, its opens and clicks,
and inbound mail Postmark could not deliver to the site (listed, retried)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from ..api.spec import MAX_SEARCH_COUNT
from .http import HTTPClient, query


def _id(message_id: object) -> str:
    return quote(str(message_id), safe="")


class MessageEventEndpoints(HTTPClient):
    def get_outbound_details(self, message_id: object) -> dict[str, Any]:
        """``GET /messages/outbound/{id}/details``: the message (``Metadata``, ``Tag``,
        ``MessageStream``, ``From``, ``Subject``...) and its ``MessageEvents``, each
        ``{"Recipient", "Type", "ReceivedAt", "Details"}``."""
        answer: dict[str, Any] = self.request(
            "GET", f"/messages/outbound/{_id(message_id)}/details"
        )
        return answer

    def get_message_opens(
        self, message_id: object, *, count: int = MAX_SEARCH_COUNT, offset: int = 0
    ) -> dict[str, Any]:
        """``GET /messages/outbound/opens/{id}``: ``{"TotalCount", "Opens"}``, each with the Open
        webhook's fields but ``FirstOpen`` and ``Metadata`` (Postmark keeps the first open only)."""
        path = f"/messages/outbound/opens/{_id(message_id)}"
        answer: dict[str, Any] = self.request(
            "GET", path, params={"count": count, "offset": offset}
        )
        return answer

    def get_message_clicks(
        self, message_id: object, *, count: int = MAX_SEARCH_COUNT, offset: int = 0
    ) -> dict[str, Any]:
        """``GET /messages/outbound/clicks/{id}``: ``{"TotalCount", "Clicks"}``, each with the Click
        webhook's fields but ``Metadata``."""
        path = f"/messages/outbound/clicks/{_id(message_id)}"
        answer: dict[str, Any] = self.request(
            "GET", path, params={"count": count, "offset": offset}
        )
        return answer

    def list_inbound(
        self, *, count: int = MAX_SEARCH_COUNT, offset: int = 0, **filters: Any
    ) -> dict[str, Any]:
        """``GET /messages/inbound``: ``{"TotalCount", "InboundMessages"}``; filters use Postmark's
        names (``status``: ``blocked``, ``processed``, ``queued``, ``failed``, ``scheduled``;
        ``recipient``, ``fromemail``, ``subject``, ``mailboxhash``, ``fromdate``, ``todate``)."""
        params = {"count": count, "offset": offset, **query(filters)}
        answer: dict[str, Any] = self.request("GET", "/messages/inbound", params=params)
        return answer

    def retry_inbound(self, message_id: object) -> dict[str, Any]:
        """``PUT /messages/inbound/{id}/retry``: deliver a failed inbound message to the inbound
        webhook again."""
        answer: dict[str, Any] = self.request("PUT", f"/messages/inbound/{_id(message_id)}/retry")
        return answer
