"""Postmark's rules for a message, and the error codes it answers when one is broken.

Message texts follow Postmark's answers where they are known, so that code parsing them (for
example the inactive addresses of ErrorCode 406) meets the real shape.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from email.utils import getaddresses
from typing import Any

from ..api.spec import (
    DEFAULT_STREAM,
    ERROR_SENDER_SIGNATURE_NOT_FOUND,
    MAX_MESSAGE_BYTES,
    MAX_METADATA_FIELDS,
    MAX_METADATA_KEY_LENGTH,
    MAX_METADATA_VALUE_LENGTH,
    MAX_RECIPIENTS,
    MAX_TAG_LENGTH,
    can_send_from,
)
from ..api.spec import TRACK_LINKS_VALUES as TRACK_LINKS

# A sample of the extensions Postmark refuses; enough to exercise ErrorCode 411.
FORBIDDEN_EXTENSIONS = frozenset(
    {
        "vbs",
        "exe",
        "bin",
        "bat",
        "chm",
        "com",
        "cpl",
        "crt",
        "hlp",
        "hta",
        "inf",
        "ins",
        "isp",
        "jse",
        "lnk",
        "mdb",
        "pcd",
        "pif",
        "reg",
        "scr",
        "sct",
        "shs",
        "vbe",
        "vba",
        "wsf",
        "wsh",
        "wsl",
        "msc",
        "msi",
        "msp",
        "mst",
    }
)
ADDRESS = re.compile(r"^[^@\s<>(),;:\"]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?\.[A-Za-z0-9-]+$")
#: A From passes parsing with a single-label domain too (``webmaster@localhost`` is valid RFC
#: 5322); it is then refused as no Sender Signature (see facts.ERROR_SENDER_SIGNATURE_NOT_FOUND).
SENDER_ADDRESS = re.compile(r"^[^@\s<>(),;:\"]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$")


class Refusal(Exception):
    """Postmark refuses the request (or, inside a batch, one message of it)."""

    def __init__(self, error_code: int, message: str, http_status: int = 422) -> None:
        super().__init__(message)
        self.error_code = error_code
        self.message = message
        self.http_status = http_status

    def as_json(self) -> dict[str, Any]:
        return {"ErrorCode": self.error_code, "Message": self.message}


@dataclass
class ValidMessage:
    sender: str
    to: list[str]
    cc: list[str]
    bcc: list[str]
    subject: str
    tag: str
    metadata: dict[str, str]
    headers: list[tuple[str, str]]
    text_body: str
    html_body: str
    attachments: list[str]
    stream: str
    payload: dict[str, Any]

    @property
    def recipients(self) -> list[str]:
        return self.to + self.cc + self.bcc


def validate_message(payload: Any, *, template: bool, streams: dict[str, str]) -> ValidMessage:
    """The message with addresses parsed and lowercased, or a ``Refusal``."""
    if not isinstance(payload, dict):
        raise Refusal(402, "Received invalid JSON input.")
    if len(json.dumps(payload).encode()) > MAX_MESSAGE_BYTES:
        raise Refusal(300, "The message size exceeds the 10 MB limit.", http_status=413)
    sender_list = _addresses("From", payload.get("From"), SENDER_ADDRESS)
    if len(sender_list) != 1:
        raise Refusal(300, f"Invalid 'From' address: '{payload.get('From') or ''}'.")
    to, cc, bcc = (_addresses(name, payload.get(name)) for name in ("To", "Cc", "Bcc"))
    count = len(to) + len(cc) + len(bcc)
    if count == 0:
        raise Refusal(300, "Zero recipients specified")
    if count > MAX_RECIPIENTS:
        raise Refusal(
            300,
            f"Invalid 'To' address: too many recipients ({count}). You may send to at most "
            f"{MAX_RECIPIENTS} recipients across To, Cc and Bcc.",
        )
    stream = str(payload.get("MessageStream") or DEFAULT_STREAM)
    if stream not in streams:
        raise Refusal(1235, f"The message stream '{stream}' was not found on this server.")
    if stream == "inbound":
        raise Refusal(1236, f"The message stream '{stream}' does not support sending.")
    subject, text_body, html_body = _content(payload, template)
    tag = payload.get("Tag") or ""
    if not isinstance(tag, str) or len(tag) > MAX_TAG_LENGTH:
        raise Refusal(300, f"The 'Tag' must be text of at most {MAX_TAG_LENGTH} characters.")
    track_links = payload.get("TrackLinks")
    if track_links is not None and track_links not in TRACK_LINKS:
        raise Refusal(300, f"Invalid 'TrackLinks' value '{track_links}'.")
    # The sandbox stands for an account on which every sender is confirmed, except those no
    # account can confirm: the request is well-formed, the sender is not allowed.
    if not can_send_from(sender_list[0].rpartition("@")[2]):
        raise Refusal(
            ERROR_SENDER_SIGNATURE_NOT_FOUND,
            f"The 'From' address you supplied ({payload.get('From')}) is not a Sender Signature "
            "on your account. Please add and confirm this address in order to be able to use "
            "it in the 'From' field of your messages.",
        )
    return ValidMessage(
        sender=sender_list[0],
        to=to,
        cc=cc,
        bcc=bcc,
        subject=subject,
        tag=tag,
        metadata=_metadata(payload.get("Metadata")),
        headers=_headers(payload.get("Headers")),
        text_body=text_body,
        html_body=html_body,
        attachments=_attachments(payload.get("Attachments")),
        stream=stream,
        payload=_without_attachment_content(payload),
    )


def _without_attachment_content(payload: dict[str, Any]) -> dict[str, Any]:
    """The payload to keep in memory: attachments by name and size, not their content (a
    sandbox left running through a test suite would otherwise hold every byte ever sent)."""
    if not payload.get("Attachments"):
        return payload
    summary = [
        {key: value for key, value in item.items() if key != "Content"}
        | {"ContentLength": len(str(item.get("Content") or "")) * 3 // 4}
        for item in payload["Attachments"]
    ]
    return {**payload, "Attachments": summary}


def _addresses(field_name: str, value: Any, pattern: re.Pattern[str] = ADDRESS) -> list[str]:
    if value in (None, ""):
        return []
    if not isinstance(value, str):
        raise Refusal(300, f"Invalid '{field_name}' address: '{value}'.")
    try:
        parsed = getaddresses([value])
    except RecursionError:
        # The standard library recurses into nested comments and groups; Postmark answers an
        # address it cannot read with 300, and so does the sandbox (never a dropped connection).
        raise Refusal(300, f"Invalid '{field_name}' address.") from None
    addresses = []
    for display, address in parsed:
        if not pattern.match(address):
            shown = f"{display} <{address}>" if display else address
            raise Refusal(300, f"Invalid '{field_name}' address: '{shown or value}'.")
        addresses.append(address.lower())
    return addresses


def _content(payload: dict[str, Any], template: bool) -> tuple[str, str, str]:
    if template:
        if not payload.get("TemplateId") and not payload.get("TemplateAlias"):
            raise Refusal(403, "Either 'TemplateId' or 'TemplateAlias' is required.")
        model = payload.get("TemplateModel")
        if not isinstance(model, dict):
            raise Refusal(403, "The 'TemplateModel' is required and must be an object.")
        name = payload.get("TemplateAlias") or payload.get("TemplateId")
        # The sandbox stores no templates; it shows which one was asked for and with what.
        return f"Template {name}", json.dumps(model, indent=2, sort_keys=True), ""
    text_body, html_body = payload.get("TextBody") or "", payload.get("HtmlBody") or ""
    if not isinstance(text_body, str) or not isinstance(html_body, str):
        raise Refusal(300, "'TextBody' and 'HtmlBody' must be text.")
    if not text_body and not html_body:
        raise Refusal(300, "Provide either email TextBody or HtmlBody or both.")
    return str(payload.get("Subject") or ""), text_body, html_body


#: Postmark's words for a metadata field name or value too long.
METADATA_TOO_LONG = (
    f"Invalid metadata content. Field names are limited to {MAX_METADATA_KEY_LENGTH} characters "
    f"and field values are limited to {MAX_METADATA_VALUE_LENGTH} characters in length. The "
    "'{}' field in your metadata content exceeds these limits."
)


def _metadata(value: Any) -> dict[str, str]:
    if value in (None, {}):
        return {}
    if not isinstance(value, dict):
        raise Refusal(300, "'Metadata' must be an object of text values.")
    seen: set[str] = set()
    for key, item in value.items():
        if isinstance(item, dict | list):
            raise Refusal(300, f"Metadata value '{key}' must be text, not an object or list.")
        if key.lower() in seen:
            raise Refusal(300, f"Metadata keys must differ by more than case: '{key}'.")
        seen.add(key.lower())
        if len(key) > MAX_METADATA_KEY_LENGTH or len(str(item or "")) > MAX_METADATA_VALUE_LENGTH:
            raise Refusal(300, METADATA_TOO_LONG.format(key))
    if len(value) > MAX_METADATA_FIELDS:
        raise Refusal(300, f"Invalid metadata content: at most {MAX_METADATA_FIELDS} fields.")
    return {str(key): "" if item is None else str(item) for key, item in value.items()}


def _headers(value: Any) -> list[tuple[str, str]]:
    if value in (None, []):
        return []
    if not isinstance(value, list) or not all(
        isinstance(item, dict) and isinstance(item.get("Name"), str) for item in value
    ):
        raise Refusal(300, '\'Headers\' must be a list of {"Name", "Value"} objects.')
    return [(item["Name"], str(item.get("Value") or "")) for item in value]


def _attachments(value: Any) -> list[str]:
    if value in (None, []):
        return []
    if not isinstance(value, list):
        raise Refusal(300, "'Attachments' must be a list.")
    names = []
    for item in value:
        if not isinstance(item, dict) or not item.get("Name") or "Content" not in item:
            raise Refusal(300, "Every attachment needs a 'Name' and a 'Content'.")
        name = str(item["Name"])
        if name.rpartition(".")[2].lower() in FORBIDDEN_EXTENSIONS:
            raise Refusal(411, f"Forbidden attachment type: '{name}'.")
        try:
            base64.b64decode(str(item["Content"]), validate=True)
        except (binascii.Error, ValueError):
            raise Refusal(300, f"Invalid attachment content for '{name}': not base64.") from None
        names.append(name)
    return names
