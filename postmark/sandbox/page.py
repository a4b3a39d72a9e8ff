"""The sandbox's HTML page: everything it received and sent, newest first."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from html import escape
from typing import Any

from .state import Bounce, SentMessage, Suppression, WebhookDelivery, postmark_timestamp

_STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;width:100%;margin-bottom:2em}
th,td{border:1px solid #ddd;padding:4px 6px;text-align:left;vertical-align:top}
th{background:#f4f4f4} .bad{color:#b00020;font-weight:600} .ok{color:#11772d}
code{font-size:12px}
"""


def render(snapshot: dict[str, list[Any]], *, api_url: str, webhook_url: str | None) -> str:
    messages: list[SentMessage] = snapshot["messages"][::-1]
    bounces: list[Bounce] = snapshot["bounces"][::-1]
    suppressions: list[Suppression] = snapshot["suppressions"][::-1]
    deliveries: list[WebhookDelivery] = snapshot["webhook_deliveries"][::-1]
    hook = escape(webhook_url) if webhook_url else "not configured (events are only shown here)"
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><meta http-equiv="refresh" content="3">
<title>Postmark sandbox</title><style>{_STYLE}</style></head><body>
<h1>Postmark sandbox</h1>
<p>API: <code>{escape(api_url)}</code> &middot; webhooks to: <code>{hook}</code></p>
<h2 id="messages">Messages ({len(messages)})</h2>
{
        _table(
            ("Submitted", "MessageID", "Stream", "From", "Recipients", "Subject", "Tag"),
            (_message_row(m) for m in messages),
        )
    }
<h2 id="bounces">Bounces ({len(bounces)})</h2>
{
        _table(
            ("ID", "Bounced at", "Type", "Email", "Inactive", "MessageID"),
            (
                (
                    str(b.id),
                    postmark_timestamp(b.bounced_at),
                    escape(b.bounce_type.name),
                    escape(b.email),
                    "yes" if b.inactive else "no",
                    escape(b.message.message_id),
                )
                for b in bounces
            ),
        )
    }
<h2 id="suppressions">Suppressions ({len(suppressions)})</h2>
{
        _table(
            ("Email", "Stream", "Reason", "Origin", "Since"),
            (
                (
                    escape(s.email),
                    escape(s.stream),
                    escape(s.reason),
                    escape(s.origin),
                    postmark_timestamp(s.created_at),
                )
                for s in suppressions
            ),
        )
    }
<h2 id="webhooks">Webhook deliveries ({len(deliveries)})</h2>
{
        _table(
            ("#", "Record type", "About", "State", "Attempts (HTTP status)"),
            (_delivery_row(d) for d in deliveries),
        )
    }
</body></html>"""


def _message_row(message: SentMessage) -> Sequence[str]:
    # A message sent with the test token has no outcome: Postmark delivers nothing for it.
    outcomes = "<br>".join(
        f"{escape(address)}: {_outcome(message.outcomes.get(address, 'test token: not sent'))}"
        for address in message.recipients
    )
    return (
        postmark_timestamp(message.submitted_at),
        f"<code>{escape(message.message_id)}</code>",
        escape(message.stream),
        escape(message.sender),
        outcomes,
        escape(message.subject),
        escape(message.tag),
    )


def _outcome(outcome: str) -> str:
    css = "ok" if outcome == "delivered" else "bad"
    return f'<span class="{css}">{escape(outcome)}</span>'


def _delivery_row(delivery: WebhookDelivery) -> Sequence[str]:
    payload = delivery.payload
    about = escape(str(payload.get("Email") or payload.get("Recipient") or ""))
    attempts = ", ".join(
        str(attempt.status) if attempt.status is not None else f"none ({escape(attempt.error)})"
        for attempt in delivery.attempts
    )
    css = {"delivered": "ok", "failed": "bad"}.get(delivery.state, "")
    return (
        str(delivery.id),
        escape(delivery.record_type),
        about,
        f'<span class="{css}">{escape(delivery.state)}</span>',
        attempts or "none yet",
    )


def _table(headings: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    head = "".join(f"<th>{escape(heading)}</th>" for heading in headings)
    empty = f'<tr><td colspan="{len(headings)}">nothing yet</td></tr>'
    return f"<table><tr>{head}</tr>{body or empty}</table>"
