"""The sending endpoints: single, batch, template and bulk sends."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

from .http import HTTPClient


class EmailEndpoints(HTTPClient):
    def send(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        """``POST /email``: one message, one result."""
        result: dict[str, Any] = self.request("POST", "/email", json_body=payload)
        return result

    def send_batch(self, payloads: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """``POST /email/batch``: up to 500 messages; every result carries its own ErrorCode."""
        results: list[dict[str, Any]] = self.request(
            "POST", "/email/batch", json_body=list(payloads)
        )
        return results

    def send_with_template(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = self.request("POST", "/email/withTemplate", json_body=payload)
        return result

    def send_batch_with_templates(
        self, payloads: Sequence[Mapping[str, Any]]
    ) -> list[dict[str, Any]]:
        answer = self.request(
            "POST", "/email/batchWithTemplates", json_body={"Messages": list(payloads)}
        )
        # Documented as an array; tolerate a {"Messages": [...]} wrapper too.
        results: list[dict[str, Any]] = (
            answer.get("Messages", answer) if isinstance(answer, dict) else answer
        )
        return results

    # --- Bulk API (broadcast streams; Postmark's support enables it per account) ----------------

    def send_bulk(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        """``POST /email/bulk``: the content once, ``Messages`` with one object per recipient
        message. The answer is ``{"ID", "Status": "Accepted", "SubmittedAt"}``: no MessageID per
        recipient, so put what links each one back (an id of your own) in its ``Metadata``."""
        answer: dict[str, Any] = self.request("POST", "/email/bulk", json_body=payload)
        return answer

    def get_bulk_status(self, bulk_id: str) -> dict[str, Any]:
        """``GET /email/bulk/{id}``: ``{"Id", "SubmittedAt", "TotalMessages",
        "PercentageCompleted", "Status", "Subject"}``; Status is Accepted, Processing, Completed
        or Failed."""
        answer: dict[str, Any] = self.request("GET", f"/email/bulk/{quote(str(bulk_id), safe='')}")
        return answer
