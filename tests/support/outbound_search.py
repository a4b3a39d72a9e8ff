"""A stand-in for the sandbox's ``GET /messages/outbound`` (dates, stream, paging) while this
branch lacks it: the settling branch adds the real one (postmark/sandbox/messages_api.py), and
once both have landed the recovery tests use that instead and this file goes."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from postmark.sandbox import Sandbox
from postmark.sandbox.routing import Answer, Request

_EASTERN = timezone(timedelta(hours=-5))


def add_search(sandbox: Sandbox) -> None:
    if any(pattern.pattern == "/messages/outbound" for _, pattern, _ in sandbox.api.routes):
        return

    def search(request: Request) -> Answer:
        count, offset = int(request.query["count"]), int(request.query["offset"])
        assert 1 <= count <= 500 and count + offset <= 10_000, (count, offset)
        start = _moment(request.query.get("fromdate"))
        end = _moment(request.query.get("todate"))
        stream = request.query.get("messagestream")
        found = [
            m
            for m in reversed(sandbox.state.snapshot()["messages"])
            if not m.test
            and (start is None or m.submitted_at >= start)
            and (end is None or m.submitted_at <= end)
            and (not stream or m.stream == stream)
        ]
        page = [{"MessageID": m.message_id} for m in found[offset : offset + count]]
        return Answer(200, {"TotalCount": len(found), "Messages": page})

    sandbox.api.routes.append(("GET", re.compile("/messages/outbound"), search))


def _moment(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text).replace(tzinfo=_EASTERN) if text else None
