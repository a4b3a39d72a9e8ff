"""What a ``QueuedBatch`` row keeps about each message, and the message rebuilt from it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.core.mail import EmailMessage

from ..api.timestamps import parse_timestamp
from ..conf import settings
from ..message import PostmarkEmailMultiAlternatives, server_label
from ..results import PostmarkResult
from ..sending.recipients import known_state, set_result, set_suppressed, state_of

# The options a rebuilt message needs for post_send receivers (the payload carries the rest).
_KEPT_OPTIONS = ("tag", "metadata", "message_stream", "template_id", "template_alias")
#: The shape of the entries below; a row whose envelope names another version (written by a
#: later release) is not read (``postmark.queue.readable``). Rows without one are version 1.
ENVELOPE_VERSION = 1


def message_entry(
    message: EmailMessage,
    payload: dict[str, Any] | None,
    result: PostmarkResult | None,
    *,
    bulk: bool = False,
    server: str = "",
    log_id: str | None = None,
) -> dict[str, Any]:
    """The JSON a batch row keeps for one message: enough to rebuild it for ``post_send``.

    The bodies are kept once: in the payload when there is one, else in the envelope. A Bulk
    API message (``bulk``) also keeps the link id generated for each recipient (already in the
    payload's Metadata) and its ``merge_metadata``: the log's per-recipient rows need both. A
    message for another server keeps that server's label (``server``), never its token.
    ``log_id`` is the ``link_id`` of the message's log row, written when it was queued (the id
    its payload's Metadata carries): the worker's log updates that row (a Bulk API message's
    rows go by its recipients' link ids).
    """
    envelope: dict[str, Any] = {
        "version": ENVELOPE_VERSION,
        "from_email": _json_address(message.from_email or ""),
        "to": [_json_address(address) for address in message.to],
        "cc": [_json_address(address) for address in message.cc],
        "bcc": [_json_address(address) for address in message.bcc],
        "reply_to": [_json_address(address) for address in message.reply_to],
        "subject": str(message.subject or ""),
        "options": {
            name: _json_option(getattr(message, name, None))
            for name in _KEPT_OPTIONS
            if getattr(message, name, None) is not None
        },
    }
    suppressed = getattr(message, "suppressed_recipients", None)
    if suppressed:
        envelope["suppressed_recipients"] = [_json_address(address) for address in suppressed]
    if bulk:
        envelope["options"]["bulk"] = True
        _keep_bulk_recipients(message, envelope, sent=payload is not None)
    if server:
        envelope["server"] = server
    if log_id:
        envelope["log_id"] = log_id
    if payload is None:
        envelope["body"] = str(message.body or "")
        envelope["content_subtype"] = message.content_subtype
        envelope["alternatives"] = [
            [_as_text(alternative[0]), alternative[1]]
            for alternative in getattr(message, "alternatives", None) or []
        ]
    return {
        "envelope": envelope,
        "payload": payload,
        "result": result_to_json(result) if result is not None else None,
    }


def rebuild_messages(entries: Sequence[Mapping[str, Any]]) -> list[EmailMessage]:
    """A batch row's messages, rebuilt. For another server's batch, each gets the token back
    from POSTMARK_SERVER_TOKENS (looked up once for the row, kept in memory only), so that the
    log records its server as ``PostmarkBackend``'s does."""
    token = listed_server_token(server_of(entries))
    messages = [_rebuild_message(entry) for entry in entries]
    if token:
        for message in messages:
            setattr(message, "server_token", token)  # noqa: B010 (a documented option)
    return messages


def _rebuild_message(entry: Mapping[str, Any]) -> EmailMessage:
    """A light copy of the caller's message (addresses, subject, bodies, Postmark options)."""
    envelope = entry["envelope"]
    body, subtype, alternatives = _original_bodies(envelope, entry["payload"])
    message = PostmarkEmailMultiAlternatives(
        subject=envelope["subject"],
        body=body,
        from_email=_address(envelope["from_email"]),
        to=[_address(address) for address in envelope["to"]],
        cc=[_address(address) for address in envelope["cc"]],
        bcc=[_address(address) for address in envelope["bcc"]],
        reply_to=[_address(address) for address in envelope["reply_to"]],
        **envelope["options"],
    )
    message.content_subtype = subtype
    if envelope.get("suppressed_recipients"):
        set_suppressed(
            message, [_address(address) for address in envelope["suppressed_recipients"]]
        )
    for content, mimetype in alternatives:
        message.attach_alternative(content, mimetype)
    state = state_of(message)
    # Its log rows were written when it was queued, by these ids: the worker's log updates them.
    # Every attempt sends the same payload, with the same ids in its Metadata.
    state.queued = True
    if envelope.get("log_id"):
        state.log_id = envelope["log_id"]
    if envelope.get("link_ids"):
        state.link_ids = {_address(address): link_id for address, link_id in envelope["link_ids"]}
    if envelope.get("merge_metadata"):
        message.merge_metadata = envelope["merge_metadata"]
    if entry.get("result") is not None:
        set_result(message, result_from_json(entry["result"]))
    return message


def is_bulk_call(entries: Sequence[Mapping[str, Any]]) -> bool:
    """Whether a batch row's messages go as one Bulk API request (``POST /email/bulk``)."""
    return any(entry["envelope"]["options"].get("bulk") for entry in entries)


def server_of(entries: Sequence[Mapping[str, Any]]) -> str:
    """The label of the server a batch row's messages go through; "" for POSTMARK_API_KEY's."""
    return next((label for entry in entries if (label := entry["envelope"].get("server"))), "")


def listed_server_token(label: str) -> str | None:
    """The token in POSTMARK_SERVER_TOKENS whose label is ``label``, if one still is."""
    if not label:
        return None
    return next((t for t in settings.POSTMARK_SERVER_TOKENS if server_label(t) == label), None)


def _keep_bulk_recipients(message: EmailMessage, envelope: dict[str, Any], *, sent: bool) -> None:
    # Set by the payload (recipients.payloads_of); without a payload they went nowhere (or
    # are left from an earlier send of the same message), and the message has a log_id instead.
    link_ids = state.link_ids if (state := known_state(message)) else None
    if link_ids and sent:
        envelope["link_ids"] = [
            [_json_address(address), link_id] for address, link_id in link_ids.items()
        ]
    merge_metadata = getattr(message, "merge_metadata", None)
    if merge_metadata:
        envelope["merge_metadata"] = {
            str(address): _json_option(dict(values or {}))
            for address, values in merge_metadata.items()
        }


def _original_bodies(
    envelope: Mapping[str, Any], payload: Mapping[str, Any] | None
) -> tuple[str, str, list[list[str]]]:
    """(body, content subtype, alternatives) of the original message."""
    if payload is None:
        return envelope["body"], envelope["content_subtype"], envelope["alternatives"]
    text, html = payload.get("TextBody"), payload.get("HtmlBody")
    if text is not None:
        return text, "plain", [[html, "text/html"]] if html is not None else []
    return (html, "html", []) if html is not None else ("", "plain", [])


def result_to_json(result: PostmarkResult) -> dict[str, Any]:
    return {
        "status": str(result.status),
        "message_id": result.message_id,
        "submitted_at": result.submitted_at.isoformat() if result.submitted_at else None,
        "recipients": list(result.recipients),
        "error_code": result.error_code,
        "message": result.message,
        "inactive_recipients": list(result.inactive_recipients),
        "bulk_request_id": result.bulk_request_id,
    }


def result_from_json(data: Mapping[str, Any]) -> PostmarkResult:
    return PostmarkResult(
        data["status"],
        message_id=data.get("message_id"),
        submitted_at=parse_timestamp(data.get("submitted_at")),
        recipients=list(data.get("recipients") or []),
        error_code=data.get("error_code"),
        message=data.get("message") or "",
        inactive_recipients=list(data.get("inactive_recipients") or []),
        bulk_request_id=data.get("bulk_request_id"),
    )


def _json_address(address: Any) -> str | list[str]:
    # Django also takes (name, address) pairs: kept as pairs, so that the log writes them as
    # PostmarkBackend's does ("Name <address>"), not as the text of a tuple.
    if isinstance(address, tuple | list) and len(address) == 2:
        return [str(address[0]), str(address[1])]
    return str(address)


def _address(kept: str | list[str]) -> str | tuple[str, str]:
    return (kept[0], kept[1]) if isinstance(kept, list) else kept


def _as_text(content: Any) -> str:
    return content.decode() if isinstance(content, bytes) else str(content)


def _json_option(value: Any) -> Any:
    # Metadata values go to Postmark as strings anyway; keep the row JSON whatever they were.
    if isinstance(value, Mapping):
        return {str(key): "" if item is None else str(item) for key, item in value.items()}
    return value if isinstance(value, int | str) else str(value)
