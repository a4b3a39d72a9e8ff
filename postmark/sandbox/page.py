"""The sandbox's HTML page: everything it received and sent, newest first."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from html import escape
from typing import Any
from urllib.parse import urlencode, urlsplit

from .state import Bounce, SentMessage, Suppression, WebhookDelivery, postmark_timestamp

#: The inbound form's path (``inbound_api``); ``?reply=<MessageID>`` fills it in as a reply.
INBOUND_FORM = "/sandbox/inbound"

STYLE = """
:root{--ink:#1d2330;--muted:#5f6b7a;--line:#e3e7ee;--paper:#f7f6f2;--ok:#0f7b3f;--ok-bg:#e3f6ea;
--bad:#b4232c;--bad-bg:#fde8ea;--wait:#3b4a9e;--wait-bg:#e8ecff;--band:#6b4e16}
*{box-sizing:border-box}
body{margin:0;background:var(--paper);color:var(--ink);
font:14.5px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
a{color:#3b5bdb;text-decoration:none} a:hover{text-decoration:underline}
code{font:12.5px/1.4 ui-monospace,Menlo,Consolas,monospace}
header{background:var(--band);color:#fff}
header .inner,main{max-width:80rem;margin:0 auto;padding:0 1.25rem}
header .inner{display:flex;flex-wrap:wrap;gap:.4rem 1.5rem;align-items:center;padding-top:.9rem;
padding-bottom:.9rem}
header h1{font-size:1.15rem;margin:0;font-weight:650}
header nav{margin-left:auto;display:flex;gap:1rem} header nav a{color:#ffe7b3;font-weight:500}
.facts{color:var(--muted);margin:1rem 0 0;font-size:13.5px}
.facts code{background:#ecebe4;padding:.1rem .35rem;border-radius:4px;word-break:break-all}
section{background:#fff;border:1px solid var(--line);border-radius:10px;padding:1rem 1.25rem;
margin:1.25rem 0}
h2{font-size:1.05rem;margin:0 0 .7rem}
.wrap{overflow-x:auto;margin:0 -1.25rem;padding:0 1.25rem}
table{border-collapse:collapse;width:100%;font-size:13.5px}
th{text-align:left;font-size:12px;text-transform:uppercase;letter-spacing:.04em;color:var(--muted);
font-weight:600;border-bottom:1px solid var(--line);padding:.4rem .6rem}
td{border-bottom:1px solid var(--line);padding:.5rem .6rem;vertical-align:top}
tr:last-child td{border-bottom:0}
td.empty{color:var(--muted);text-align:center;padding:1.1rem}
time{white-space:nowrap;color:var(--muted);font-variant-numeric:tabular-nums}
.badge{display:inline-block;padding:.05rem .5rem;border-radius:999px;font-size:12px;font-weight:600;
white-space:nowrap;background:#eceff5;color:var(--muted)}
.ok{background:var(--ok-bg);color:var(--ok)} .bad{background:var(--bad-bg);color:var(--bad)}
.wait{background:var(--wait-bg);color:var(--wait)}
td code{white-space:nowrap}
@media (max-width:760px){header nav{margin-left:0} body{font-size:14px}
thead{display:none} table,tbody,tr,td{display:block;width:100%}
tr{padding:.55rem 0;border-bottom:1px solid var(--line)} tr:last-child{border-bottom:0}
td{border:0;padding:.05rem 0;overflow-wrap:anywhere} td:empty{display:none}
td code{white-space:normal;word-break:break-all}}
"""


def render(
    snapshot: dict[str, list[Any]],
    *,
    api_url: str,
    webhook_url: str | None,
    inbound_url: str | None = None,
) -> str:
    messages: list[SentMessage] = snapshot["messages"][::-1]
    bounces: list[Bounce] = snapshot["bounces"][::-1]
    suppressions: list[Suppression] = snapshot["suppressions"][::-1]
    deliveries: list[WebhookDelivery] = snapshot["webhook_deliveries"][::-1]
    hook = escape(webhook_url) if webhook_url else "not configured (events are only shown here)"
    sections = [
        _section(
            "messages",
            f"Messages ({len(messages)})",
            ("Submitted", "To", "Subject", "From", "Stream", "Tag", "MessageID", "Reply"),
            (_message_row(m) for m in messages),
        ),
        _section(
            "bounces",
            f"Bounces ({len(bounces)})",
            ("Bounced at", "Type", "Email", "Inactive", "ID", "MessageID"),
            (_bounce_row(b) for b in bounces),
        ),
        _section(
            "suppressions",
            f"Suppressions ({len(suppressions)})",
            ("Since", "Email", "Stream", "Reason", "Origin"),
            (
                (
                    _time(s.created_at),
                    escape(s.email),
                    escape(s.stream),
                    _badge(s.reason, "bad"),
                    escape(s.origin),
                )
                for s in suppressions
            ),
        ),
        _section(
            "webhooks",
            f"Webhook deliveries ({len(deliveries)})",
            ("#", "Record type", "About", "State", "Attempts (HTTP status)"),
            (_delivery_row(d) for d in deliveries),
        ),
    ]
    inbound = escape(inbound_url) if inbound_url else "not configured"
    facts = (
        f"API: <code>{escape(api_url)}</code> &middot; webhooks to: <code>{hook}</code> &middot; "
        f"inbound mail to: <code>{inbound}</code> &middot; times in UTC; the page refreshes "
        "itself."
    )
    nav = f'<a href="{INBOUND_FORM}">Deliver inbound mail</a>{_site_links(webhook_url)}'
    return document("Postmark sandbox", nav, f'<p class="facts">{facts}</p>{"".join(sections)}')


def document(title: str, nav: str, main: str, *, refresh: bool = True, style: str = "") -> str:
    """A whole page: the sandbox's header band with ``nav`` and ``main`` (HTML both), and the
    page's own ``style`` after the shared one."""
    meta = '<meta http-equiv="refresh" content="3">' if refresh else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">{meta}
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title><style>{STYLE}{style}</style></head><body>
<header><div class="inner"><h1>{escape(title)}</h1><nav>{nav}</nav></div>
</header>
<main>
{main}
</main></body></html>"""


def state_json(snapshot: dict[str, list[Any]], server_id: int) -> dict[str, Any]:
    """What the page shows, as JSON (``GET /sandbox/state.json``)."""
    messages: list[SentMessage] = snapshot["messages"]
    deliveries: list[WebhookDelivery] = snapshot["webhook_deliveries"]
    return {
        "messages": [
            {
                "MessageID": m.message_id,
                "From": m.sender,
                "To": m.to,
                "Cc": m.cc,
                "Bcc": m.bcc,
                "Subject": m.subject,
                "Tag": m.tag,
                "MessageStream": m.stream,
                "Outcomes": m.outcomes,
                "Test": m.test,
            }
            for m in messages
        ],
        "bounces": [b.as_json(server_id) for b in snapshot["bounces"]],
        "suppressions": [
            dict(s.as_json(), MessageStream=s.stream) for s in snapshot["suppressions"]
        ],
        "webhooks": [
            {
                "ID": d.id,
                "RecordType": d.record_type,
                "URL": d.url,
                "State": d.state,
                "Statuses": [a.status for a in d.attempts],
                "Payload": d.payload,
            }
            for d in deliveries
        ],
    }


def _site_links(webhook_url: str | None) -> str:
    """Links back to the site that receives the webhooks (the demo's, say), if there is one."""
    if not webhook_url:
        return ""
    parts = urlsplit(webhook_url.split(" ", 1)[0])
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return ""
    site = escape(f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}/")
    return (
        f'<a href="{site}" id="site-link">&larr; The site</a><a href="{site}admin/">Its admin</a>'
    )


def _message_row(message: SentMessage) -> Sequence[str]:
    # A message sent with the test token has no outcome: Postmark delivers nothing for it.
    outcomes = "<br>".join(
        f"{escape(address)} {_outcome(message.outcomes.get(address, 'test token: not sent'))}"
        for address in message.recipients
    )
    return (
        _time(message.submitted_at),
        outcomes,
        escape(message.subject),
        escape(message.sender),
        escape(message.stream),
        escape(message.tag),
        f"<code>{escape(message.message_id)}</code>",
        _reply_link(message),
    )


def _reply_link(message: SentMessage) -> str:
    """A link to the inbound form, filled in as the recipient's reply (``inbound_page``); none
    for a message sent with the test token, which reached nobody."""
    if message.test:
        return ""
    href = escape(f"{INBOUND_FORM}?{urlencode({'reply': message.message_id})}")
    return f'<a href="{href}" class="reply">Reply</a>'


def _bounce_row(bounce: Bounce) -> Sequence[str]:
    return (
        _time(bounce.bounced_at),
        _badge(bounce.bounce_type.name, "bad"),
        escape(bounce.email),
        _badge("inactive", "bad") if bounce.inactive else _badge("active", ""),
        str(bounce.id),
        f"<code>{escape(bounce.message.message_id)}</code>",
    )


def _outcome(outcome: str) -> str:
    return _badge(outcome, "ok" if outcome == "delivered" else "bad")


def _delivery_row(delivery: WebhookDelivery) -> Sequence[str]:
    payload = delivery.payload
    about = escape(
        str(
            payload.get("Email")
            or payload.get("Recipient")
            or payload.get("OriginalRecipient")
            or ""
        )
    )
    # One badge for every attempt, coloured by the last: "500, 503, 200" reads as a recovery.
    attempts = ", ".join(
        str(a.status) if a.status is not None else f"no answer ({a.error})"
        for a in delivery.attempts
    )
    last_ok = bool(delivery.attempts) and delivery.attempts[-1].status == 200
    css = {"delivered": "ok", "failed": "bad"}.get(delivery.state, "wait")
    return (
        str(delivery.id),
        escape(delivery.record_type),
        about,
        _badge(delivery.state, css),
        _badge(attempts, "ok" if last_ok else "bad") if attempts else "none yet",
    )


def _time(moment: datetime) -> str:
    """A time a person reads at a glance; Postmark's own form is kept in the tooltip."""
    shown = moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
    exact = postmark_timestamp(moment)
    return f'<time datetime="{exact}" title="{exact}">{shown}</time>'


def _badge(text: str, css: str) -> str:
    return f'<span class="badge {css}">{escape(text)}</span>'


def _section(
    anchor: str, title: str, headings: Sequence[str], rows: Iterable[Sequence[str]]
) -> str:
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    head = "".join(f"<th>{escape(heading)}</th>" for heading in headings)
    empty = f'<tr><td colspan="{len(headings)}" class="empty">nothing yet</td></tr>'
    return (
        f'<section><h2 id="{anchor}">{escape(title)}</h2><div class="wrap"><table>'
        f"<thead><tr>{head}</tr></thead><tbody>{body or empty}</tbody></table></div></section>"
    )
