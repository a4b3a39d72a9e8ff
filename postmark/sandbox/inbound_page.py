"""The sandbox's inbound form (``GET /sandbox/inbound``): mail to deliver to the site as Postmark
would, written in fields or uploaded as an ``.eml`` file; ``?reply=<MessageID>`` fills it in as
the reply of a message the sandbox sent (``reply_values``), as a mail client would.

Everything shown is escaped; the form carries the sandbox's form token, which a page of another
origin cannot read (``inbound_api`` checks it, and where the post came from). It does not
refresh itself, unlike the activity page, so that nothing typed is lost.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from email.utils import format_datetime, getaddresses
from html import escape

from .page import INBOUND_FORM, document
from .state import SentMessage

FORM_STYLE = """
.form-grid{display:grid;grid-template-columns:11rem 1fr;gap:.7rem 1.25rem;align-items:start;
max-width:60rem}
.form-grid label{font-weight:600;font-size:13.5px;padding-top:.45rem}
.form-grid .hint{display:block;font-weight:400;color:var(--muted);font-size:12px}
input[type=text],input[type=email],textarea{width:100%;font:inherit;padding:.45rem .6rem;
border:1px solid #cfd5df;border-radius:6px;background:#fff;color:var(--ink)}
textarea{min-height:7rem;resize:vertical;font:13px/1.45 ui-monospace,Menlo,Consolas,monospace}
input[type=file]{font-size:13px;padding:.3rem 0}
input:focus,textarea:focus{outline:2px solid #b9c6ff;border-color:#3b5bdb}
.or{grid-column:1/-1;border-top:1px solid var(--line);margin:.4rem 0 0;padding-top:.8rem;
color:var(--muted);font-size:13px}
.actions{grid-column:2;display:flex;gap:1rem;align-items:center}
button{font:inherit;font-weight:600;background:var(--band);color:#fff;border:0;
border-radius:6px;padding:.55rem 1.2rem;cursor:pointer} button:hover{filter:brightness(1.12)}
.notice{border-radius:8px;padding:.6rem .9rem;margin:1rem 0 0}
.notice.bad{background:var(--bad-bg);color:var(--bad)}
.notice.reply{background:var(--wait-bg);color:var(--wait)}
@media (max-width:760px){.form-grid{grid-template-columns:1fr}.actions{grid-column:1}}
"""

# What the reply is sent to: a plain local@domain (a garbled Reply-To falls back to From).
_ADDRESS = re.compile(r"[^\s<>()\[\]@,;:\\\"]+@[^\s<>()\[\]@,;:\\\"]+")

#: The form's fields: (name, label, hint, placeholder; None: a text area).
_FIELDS = (
    ("from", "From", "Name &lt;address&gt; or an address", "Ann Example <ann@example.com>"),
    (
        "to",
        "To",
        "The address it is delivered to; a +hash becomes MailboxHash",
        "support+1234@inbound.example.com",
    ),
    ("cc", "Cc", "optional; commas between addresses", ""),
    ("subject", "Subject", "", "Re: your order"),
    (
        "in_reply_to",
        "In-Reply-To",
        "optional: the Message-ID of the mail it answers (sent as References too)",
        "<original@example.com>",
    ),
    (
        "text",
        "Text body",
        "A reply's quoted part (&gt; lines, \u201cOn \u2026 wrote:\u201d) is "
        "left out of StrippedTextReply",
        None,
    ),
    ("html", "HTML body", "optional", None),
)


def reply_values(message: SentMessage) -> dict[str, str]:
    """The form filled in as the reply of the message's first recipient: to its Reply-To (its
    From when it has none), "Re: " and its subject, In-Reply-To its Message-ID, and its text
    quoted under an attribution line, with room above for the reply (the StrippedTextReply)."""
    reply_to = message.payload.get("ReplyTo")
    named = getaddresses([reply_to]) if isinstance(reply_to, str) else []
    answered = [address for _, address in named if _ADDRESS.fullmatch(address)]
    subject = message.subject
    if not subject.lower().startswith("re:"):
        subject = f"Re: {subject}"
    text = ""
    if message.text_body:
        quoted = "\n".join(f"> {line}".rstrip() for line in message.text_body.splitlines())
        when = format_datetime(message.submitted_at)
        text = f"\n\nOn {when}, {message.sender} wrote:\n{quoted}\n"
    return {
        "from": message.recipients[0] if message.recipients else "",
        "to": answered[0] if answered else message.sender,
        "subject": subject,
        "in_reply_to": message.header_message_id,
        "text": text,
    }


def render_form(
    *,
    token: str,
    target: str | None,
    raw_email: bool,
    values: Mapping[str, str] | None = None,
    error: str = "",
    limit_mb: int = 35,
    replying_to: str = "",
) -> str:
    """The form page; ``replying_to`` (a subject) says it is filled in as a reply to that."""
    values = values or {}
    where = (
        f"<code>{escape(target)}</code>"
        if target
        else "nowhere yet: start <code>postmark_sandbox</code> with <code>--inbound-url</code>"
    )
    raw = "included" if raw_email else "not included (<code>--no-raw-email</code>)"
    facts = (
        f'<p class="facts">Delivered to: {where} &middot; RawEmail: {raw} &middot; up to '
        f"{limit_mb} MB of attachments, as Postmark takes.</p>"
    )
    notice = f'<p class="notice bad" role="alert">{escape(error)}</p>' if error else ""
    if replying_to:
        notice += (
            f'<p class="notice reply">A reply to \u201c{escape(replying_to)}\u201d, as its '
            "recipient would send it: write it at the top of the text, then Deliver.</p>"
        )
    rows = []
    for name, label, hint, placeholder in _FIELDS:
        value = escape(values.get(name, ""))
        # Replying, the cursor starts where the reply is written.
        focus = " autofocus" if replying_to and name == "text" else ""
        field = (
            # The line break after the tag is the parser's (HTML drops the first one): a value
            # that begins with one (a reply's empty first line) keeps it.
            f'<textarea id="f-{name}" name="{name}"{focus}>\n{value}</textarea>'
            if placeholder is None
            else f'<input type="text" id="f-{name}" name="{name}" value="{value}" '
            f'placeholder="{escape(placeholder)}">'
        )
        hint_html = f'<span class="hint">{hint}</span>' if hint else ""
        rows.append(f'<label for="f-{name}">{label}{hint_html}</label><div>{field}</div>')
    form = f"""<section><h2 id="deliver">Deliver inbound mail</h2>
<form method="post" action="{INBOUND_FORM}" enctype="multipart/form-data"
 accept-charset="utf-8" class="form-grid">
<input type="hidden" name="token" value="{escape(token)}">
{"".join(rows)}
<label for="f-attachment">Attachments<span class="hint">any number of files</span></label>
<div><input type="file" id="f-attachment" name="attachment" multiple></div>
<p class="or">Or deliver a message file as it is: its headers and parts replace the fields
above, except To, which (when filled in) is the address it is delivered to.</p>
<label for="f-eml">.eml file</label>
<div><input type="file" id="f-eml" name="eml" accept=".eml,message/rfc822"></div>
<div class="actions"><button type="submit">Deliver</button>
<a href="/">Cancel</a></div>
</form></section>"""
    nav = '<a href="/">&larr; All activity</a>'
    return document(
        "Postmark sandbox: inbound mail",
        nav,
        facts + notice + form,
        refresh=False,
        style=FORM_STYLE,
    )
