"""The sending endpoints: single, batch, template and bulk sends."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

from .http import HTTPClient


def batch_json(payloads: Sequence[Mapping[str, Any]], *, template: bool = False) -> Any:
    """The JSON a batch call posts: an array (``/email/batch``) or, for templates,
    ``{"Messages": [...]}`` (``/email/batchWithTemplates``)."""
    return {"Messages": list(payloads)} if template else list(payloads)


class EmailEndpoints(HTTPClient):
    """Each takes its payloads as dicts; ``body``, when given, is the same JSON already encoded
    (``encode_json`` of what the method would post: the payload, or ``batch_json``'s answer),
    posted as it is: the send path encodes each call once, to know its size before any request."""

    def send(self, payload: Mapping[str, Any], *, body: bytes | None = None) -> dict[str, Any]:
        """``POST /email``: one message, one result."""
        result: dict[str, Any] = self.request("POST", "/email", json_body=payload, data=body)
        return result

    def send_batch(
        self, payloads: Sequence[Mapping[str, Any]], *, body: bytes | None = None
    ) -> list[dict[str, Any]]:
        """``POST /email/batch``: up to 500 messages; every result carries its own ErrorCode."""
        results: list[dict[str, Any]] = self.request(
            "POST", "/email/batch", json_body=None if body else batch_json(payloads), data=body
        )
        return results

    def send_with_template(
        self, payload: Mapping[str, Any], *, body: bytes | None = None
    ) -> dict[str, Any]:
        result: dict[str, Any] = self.request(
            "POST", "/email/withTemplate", json_body=payload, data=body
        )
        return result

    def send_batch_with_templates(
        self, payloads: Sequence[Mapping[str, Any]], *, body: bytes | None = None
    ) -> list[dict[str, Any]]:
        answer = self.request(
            "POST",
            "/email/batchWithTemplates",
            json_body=None if body else batch_json(payloads, template=True),
            data=body,
        )
        # Documented as an array; tolerate a {"Messages": [...]} wrapper too.
        results: list[dict[str, Any]] = (
            answer.get("Messages", answer) if isinstance(answer, dict) else answer
        )
        return results

    # --- Bulk API (broadcast streams; Postmark's support enables it per account) ----------------

    def send_bulk(self, payload: Mapping[str, Any], *, body: bytes | None = None) -> dict[str, Any]:
        """``POST /email/bulk``: the content once, ``Messages`` with one object per recipient
        message. The answer is ``{"ID", "Status": "Accepted", "SubmittedAt"}``: no MessageID per
        recipient, so put what links each one back (an id of your own) in its ``Metadata``."""
        answer: dict[str, Any] = self.request("POST", "/email/bulk", json_body=payload, data=body)
        return answer

    def get_bulk_status(self, bulk_id: str) -> dict[str, Any]:
        """``GET /email/bulk/{id}``: ``{"Id", "SubmittedAt", "TotalMessages",
        "PercentageCompleted", "Status", "Subject"}``; Status is Accepted, Processing, Completed
        or Failed."""
        answer: dict[str, Any] = self.request("GET", f"/email/bulk/{quote(str(bulk_id), safe='')}")
        return answer
