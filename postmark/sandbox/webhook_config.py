"""The webhooks a sandbox server has through the Webhooks API, which its sender posts to: a
stream with a webhook gets its events at that URL (with its ``HttpAuth``) for the triggers it
enables; a stream without one falls back to the sandbox's own ``--webhook-url``."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

TRIGGERS = ("Open", "Click", "Delivery", "Bounce", "SpamComplaint", "SubscriptionChange")


@dataclass
class Webhook:
    id: int
    url: str
    stream: str
    username: str = ""
    password: str = ""
    headers: list[dict[str, str]] = field(default_factory=list)
    triggers: dict[str, dict[str, Any]] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "ID": self.id,
            "Url": self.url,
            "MessageStream": self.stream,
            "HttpAuth": {"Username": self.username, "Password": self.password},
            "HttpHeaders": list(self.headers),
            "Triggers": {name: dict(self.triggers.get(name) or {}) for name in TRIGGERS},
        }

    def enabled(self, record_type: str) -> bool:
        return bool((self.triggers.get(record_type) or {}).get("Enabled"))

    def target(self) -> str:
        """The URL with its credentials in it, as the webhook sender takes it."""
        if not self.username:
            return self.url
        parts = urlsplit(self.url)
        userinfo = f"{quote(self.username, safe='')}:{quote(self.password, safe='')}"
        netloc = f"{userinfo}@{parts.netloc.rpartition('@')[2]}"
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


class WebhookRegistry:
    """The server's webhooks, behind a lock: HTTP threads write, the sender thread reads."""

    def __init__(self) -> None:
        self.webhooks: dict[int, Webhook] = {}
        self.lock = threading.Lock()
        self._next_id = 1

    def add(self, webhook: Webhook) -> Webhook:
        with self.lock:
            webhook.id = self._next_id
            self._next_id += 1
            self.webhooks[webhook.id] = webhook
            return webhook

    def of_stream(self, stream: str) -> list[Webhook]:
        with self.lock:
            return [w for w in self.webhooks.values() if w.stream == stream]
