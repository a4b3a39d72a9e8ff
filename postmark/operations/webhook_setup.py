"""Webhook setup through Postmark's Webhooks API: each outbound stream gets one webhook at the
site's URL, with its basic-auth credentials, the current webhook secret in its secret header
(when POSTMARK_WEBHOOK_SECRETS is set) and a trigger for every kind the app handles.

A system check cannot reach the network; ``manage.py postmark_webhooks --check`` is how a deploy
verifies the wiring (``drift`` lists what differs), and without ``--check`` it mends it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

from ..client import Client
from ..webhooks.auth import (
    PASSWORD_SETTINGS,
    USER_SETTINGS,
    basic_auth,
    missing_settings,
    secret_header,
    webhook_secrets,
)
from .sync import outbound_streams

#: Every trigger the app handles (postmark.events), and how it wants each configured.
TRIGGERS: dict[str, dict[str, bool]] = {
    "Delivery": {"Enabled": True},
    "Bounce": {"Enabled": True, "IncludeContent": False},
    "SpamComplaint": {"Enabled": True, "IncludeContent": False},
    "Open": {"Enabled": True, "PostFirstOpenOnly": False},
    "Click": {"Enabled": True},
    "SubscriptionChange": {"Enabled": True},
}


@dataclass
class StreamWebhook:
    stream: str
    #: Postmark's webhook ID, None when the stream has none at the site's URL.
    webhook_id: int | None
    problems: list[str] = field(default_factory=list)
    #: What ``apply`` did: "created", "updated" or "unchanged".
    action: str = ""
    #: The custom headers Postmark's webhook has now: an update keeps those that are not ours.
    headers: list[dict[str, Any]] = field(default_factory=list, repr=False)


def expected(url: str, stream: str, headers: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The webhook the site wants on a stream; ``headers``, the custom headers it has now, are
    kept but for the secret header, which carries the current secret, and any other that
    carries one of the secrets (the header of before POSTMARK_WEBHOOK_HEADER was renamed)."""
    if urlsplit(url).scheme not in ("http", "https") or "@" in urlsplit(url).netloc:
        raise ImproperlyConfigured(
            f"The webhook URL must be http(s) without credentials in it (got {url!r}); "
            "the credentials come from POSTMARK_WEBHOOK_USER and POSTMARK_WEBHOOK_PASSWORD."
        )
    user, password = basic_auth()
    if not user or not password:
        missing = " and ".join(missing_settings() or [USER_SETTINGS[0], PASSWORD_SETTINGS[0]])
        raise ImproperlyConfigured(
            f"Set {missing}: the webhook views require the pair and postmark_webhooks gives it "
            "to Postmark."
        )
    wanted: dict[str, Any] = {
        "Url": url,
        "MessageStream": stream,
        "HttpAuth": {"Username": user, "Password": password},
        "Triggers": TRIGGERS,
    }
    secrets = webhook_secrets()
    if secrets:
        name = secret_header()
        others = [
            h
            for h in headers or ()
            if str(h.get("Name") or "").lower() != name.lower() and h.get("Value") not in secrets
        ]
        wanted["HttpHeaders"] = [*others, {"Name": name, "Value": secrets[0]}]
    return wanted


def drift(actual: dict[str, Any], wanted: dict[str, Any]) -> list[str]:
    """What differs between Postmark's webhook and the wanted one, in words."""
    problems = []
    if actual.get("Url") != wanted["Url"]:
        problems.append(f"URL is {actual.get('Url')!r}, expected {wanted['Url']!r}")
    auth = actual.get("HttpAuth") or {}
    if (auth.get("Username"), auth.get("Password")) != (
        wanted["HttpAuth"]["Username"],
        wanted["HttpAuth"]["Password"],
    ):
        problems.append("basic-auth credentials differ from POSTMARK_WEBHOOK_USER/_PASSWORD")
    if "HttpHeaders" in wanted:
        problems.extend(_header_drift(actual.get("HttpHeaders"), wanted["HttpHeaders"][-1]))
    triggers = actual.get("Triggers") or {}
    for name, options in wanted["Triggers"].items():
        have = triggers.get(name) or {}
        if not have.get("Enabled"):
            problems.append(f"trigger {name} is off")
        elif any(have.get(key) != value for key, value in options.items()):
            problems.append(f"trigger {name} has other options ({have})")
    return problems


def inspect(
    url: str, streams: list[str] | None = None, *, client: Client | None = None
) -> list[StreamWebhook]:
    """Each stream's webhook and how it differs from the wanted one."""
    client = client or Client.from_settings()
    found = []
    for stream in streams or outbound_streams(client):
        expected(url, stream)  # a setting to fix is said before Postmark is asked anything
        webhooks = client.list_webhooks(stream)
        ours = _ours(webhooks, url)
        if ours is None:
            others = ", ".join(repr(w.get("Url")) for w in webhooks)
            problems = [f"no webhook at {url!r} (it has: {others})" if webhooks else "no webhook"]
            found.append(StreamWebhook(stream, None, problems))
        else:
            headers = [h for h in ours.get("HttpHeaders") or () if isinstance(h, dict)]
            problems = drift(ours, expected(url, stream, headers))
            found.append(StreamWebhook(stream, int(ours["ID"]), problems, headers=headers))
    return found


def apply(
    url: str, streams: list[str] | None = None, *, client: Client | None = None
) -> list[StreamWebhook]:
    """Create or update each stream's webhook; a second run changes nothing."""
    client = client or Client.from_settings()
    results = inspect(url, streams, client=client)
    for result in results:
        wanted = expected(url, result.stream, result.headers)
        if result.webhook_id is None:
            result.webhook_id = int(client.create_webhook(wanted)["ID"])
            result.action = "created"
        elif result.problems:
            client.edit_webhook(result.webhook_id, wanted)
            result.action = "updated"
        else:
            result.action = "unchanged"
    return results


def _ours(webhooks: list[dict[str, Any]], url: str) -> dict[str, Any] | None:
    # The one at the URL; else one on the same host (the site moved its path or scheme), which
    # is then updated rather than left to post to an old address next to a new webhook.
    host = urlsplit(url).hostname
    return next((w for w in webhooks if w.get("Url") == url), None) or next(
        (w for w in webhooks if urlsplit(str(w.get("Url") or "")).hostname == host), None
    )


def _header_drift(actual: Any, ours: dict[str, str]) -> list[str]:
    """What is wrong with the secret header of Postmark's webhook, in words that never hold a
    secret (``--check`` prints them in deploy logs)."""
    name = ours["Name"]
    given = [
        h.get("Value")
        for h in (actual if isinstance(actual, list) else [])
        if isinstance(h, dict) and str(h.get("Name") or "").lower() == name.lower()
    ]
    if not given:
        return [f"header {name} is not set"]
    if given != [ours["Value"]]:
        return [f"header {name} does not carry the current secret (POSTMARK_WEBHOOK_SECRETS[0])"]
    return []
