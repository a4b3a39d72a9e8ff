"""A Django message's attachments as Postmark's ``Attachments`` entries."""

from __future__ import annotations

import base64
import email.message
import mimetypes
from typing import Any

from .addresses import refuse_line_breaks


def attachment_of(item: Any) -> dict[str, str]:
    """One of ``message.attachments`` (a MIME part, or a (filename, content, mimetype) tuple)
    as an entry of the payload's ``Attachments``, with no line break in what becomes a header."""
    if isinstance(item, email.message.Message):
        filename = item.get_filename()
        raw = item.get_payload(decode=True)
        content = raw if isinstance(raw, bytes) else str(item.get_payload()).encode()
        mimetype = item.get_content_type()
        content_id = item.get("Content-ID")
    else:
        filename, content, mimetype = item[0], item[1], item[2]
        content_id = None
        if isinstance(content, str):
            content = content.encode("utf-8")
    if not mimetype:
        mimetype = mimetypes.guess_type(filename or "")[0] or "application/octet-stream"
    name = filename or (content_id or "attachment").strip("<>")
    attachment = {
        # Each becomes a MIME part header (Content-Disposition, Content-Type, Content-ID).
        "Name": refuse_line_breaks(str(name), "attachment name"),
        "Content": base64.b64encode(content).decode("ascii"),
        "ContentType": refuse_line_breaks(str(mimetype), "attachment content type"),
    }
    if content_id:
        cid = "cid:" + str(content_id).strip().strip("<>")
        attachment["ContentID"] = refuse_line_breaks(cid, "attachment Content-ID")
    return attachment
