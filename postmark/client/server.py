"""The server's setup endpoints (webhooks, message streams) and the account's data removals."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .http import HTTPClient, query


class ServerEndpoints(HTTPClient):
    def list_webhooks(self, stream: str | None = None) -> list[dict[str, Any]]:
        """``GET /webhooks``: every webhook of the server, or of one message stream."""
        answer = self.request("GET", "/webhooks", params=query({"MessageStream": stream}))
        webhooks: list[dict[str, Any]] = answer.get("Webhooks") or []
        return webhooks

    def create_webhook(self, webhook: Mapping[str, Any]) -> dict[str, Any]:
        """``POST /webhooks`` with ``Url``, ``MessageStream``, ``HttpAuth``, ``HttpHeaders``,
        ``Triggers``."""
        answer: dict[str, Any] = self.request("POST", "/webhooks", json_body=webhook)
        return answer

    def edit_webhook(self, webhook_id: int, webhook: Mapping[str, Any]) -> dict[str, Any]:
        answer: dict[str, Any] = self.request(
            "PUT", f"/webhooks/{int(webhook_id)}", json_body=webhook
        )
        return answer

    def delete_webhook(self, webhook_id: int) -> dict[str, Any]:
        answer: dict[str, Any] = self.request("DELETE", f"/webhooks/{int(webhook_id)}")
        return answer

    def list_message_streams(self) -> list[dict[str, Any]]:
        """``GET /message-streams``: ``ID``, ``MessageStreamType``, ``Name`` of each stream."""
        answer = self.request("GET", "/message-streams")
        streams: list[dict[str, Any]] = answer.get("MessageStreams") or []
        return streams

    # --- Data removals (account token: see ``for_account``) ------------------------------------

    def request_data_removal(self, email: str, requested_by: str) -> dict[str, Any]:
        """``POST /data-removals``: ``{"ID", "Status"}``; Postmark works through it later."""
        body = {"RequestedBy": requested_by, "RequestedFor": email, "NotifyWhenCompleted": False}
        answer: dict[str, Any] = self.request("POST", "/data-removals", json_body=body)
        return answer

    def get_data_removal(self, removal_id: int) -> dict[str, Any]:
        answer: dict[str, Any] = self.request("GET", f"/data-removals/{int(removal_id)}")
        return answer
