"""Each webhook post the site does not take is said out loud (the ``postmark.sandbox.webhooks``
logger, which ``postmark_sandbox`` prints on stderr): its status, its URL and what happens next,
and never the password, however the password is spelt in the URL."""

from __future__ import annotations

import base64
import logging
import re
from collections.abc import Iterator
from contextlib import closing, contextmanager
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from postmark.client import Client
from postmark.sandbox import Sandbox
from tests.support.sandbox_api import receiving, send

LOGGER = "postmark.sandbox.webhooks"


@contextmanager
def reported() -> Iterator[list[str]]:
    """The lines the sender reports during the block."""
    lines: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    logger = logging.getLogger(LOGGER)
    handler = Keep(logging.WARNING)
    logger.addHandler(handler)
    try:
        yield lines
    finally:
        logger.removeHandler(handler)


def with_credentials(url: str, user: str, password: str) -> str:
    userinfo = f"{quote(user, safe='')}:{quote(password, safe='')}"
    return url.replace("http://", f"http://{userinfo}@")


def never_shown(line: str, user: str, password: str) -> None:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    for secret in (password, quote(password, safe=""), token):
        assert secret not in line, line


passwords = st.text(min_size=1, max_size=20).map(lambda text: "Secret!" + text)
users = st.text(alphabet=st.characters(codec="ascii", categories=["L", "N"]), min_size=1)


@given(
    statuses=st.lists(
        st.integers(300, 599).filter(lambda s: s not in (304,)), min_size=1, max_size=3
    ),
    user=users,
    password=passwords,
)
def test_every_failed_attempt_is_reported_with_status_and_url_never_the_password(
    statuses: list[int], user: str, password: str
) -> None:
    with receiving() as receiver, reported() as lines:
        receiver.statuses = list(statuses)
        url = with_credentials(receiver.url, user, password)
        with (
            Sandbox(webhook_url=url, webhook_delay=0.0, retry_delays=(0.01, 0.01)) as sandbox,
            closing(Client("server-token", base_url=sandbox.url, max_retries=0)) as client,
        ):
            send(client, "ann@example.com")
            [delivery] = sandbox.wait_for_webhooks()
    failed = [a.status for a in delivery.attempts if a.status != 200]
    assert len(lines) == len(failed) >= 1
    for status, line in zip(failed, lines, strict=True):
        assert re.search(rf"failed: {status}\b", line), line
        assert receiver.url in line and "Delivery" in line
        never_shown(line, user, password)
    if delivery.state == "failed":
        assert ("not retried" if failed[-1] == 403 else "gave up after") in lines[-1]
    else:
        assert "retry 1 of 2 in 0.01 s" in lines[0]


@pytest.mark.parametrize("answer", [401, None], ids=["refused", "unreachable"])
def test_the_last_line_says_the_webhook_was_given_up_and_a_401_why(answer: int | None) -> None:
    with receiving() as receiver, reported() as lines:
        receiver.statuses = [answer or 200] * 3
        url = receiver.url if answer else "http://127.0.0.1:9/postmark/bounce/"
        with (
            Sandbox(
                webhook_url=with_credentials(url, "postmark", "hunter2-password"),
                webhook_delay=0.0,
                retry_delays=(0.01, 0.01),
            ) as sandbox,
            closing(Client("server-token", base_url=sandbox.url, max_retries=0)) as client,
        ):
            send(client, "hardbounce@bounce-testing.postmarkapp.com")
            sandbox.wait_for_webhooks()
    assert len(lines) == 3 and "gave up after 3 attempts" in lines[-1]
    assert all("Bounce" in line and url in line for line in lines)
    if answer == 401:
        assert "failed: 401 Unauthorized" in lines[0]
        assert "POSTMARK_API_USER and POSTMARK_API_PASSWORD" in lines[0]
    else:
        assert "failed: no answer (" in lines[0]
    for line in lines:
        never_shown(line, "postmark", "hunter2-password")


def test_a_delivered_webhook_reports_nothing() -> None:
    with (
        receiving() as receiver,
        reported() as lines,
        Sandbox(webhook_url=receiver.url, webhook_delay=0.0) as sandbox,
        closing(Client("server-token", base_url=sandbox.url, max_retries=0)) as client,
    ):
        send(client, "ann@example.com")
        [delivery] = sandbox.wait_for_webhooks()
    assert delivery.state == "delivered" and lines == []
