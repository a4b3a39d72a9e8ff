"""``manage.py postmark_inbound_deliver``: an ``.eml`` or mail written in options, through the
running sandbox (or straight to the site's inbound URL) to the app's inbound view; and
``postmark_sandbox``'s inbound options, as real processes."""

from __future__ import annotations

import base64
import io
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from pytest_django.live_server_helper import LiveServer

from postmark.events.inbound import InboundEvent
from postmark.sandbox import Sandbox
from tests.sandbox.test_command import ROOT, command, read_line_with
from tests.support.inbound_mail import INVOICE_EML
from tests.support.ports import free_port
from tests.support.sandbox_api import receiving

pytestmark = pytest.mark.django_db(transaction=True)


def deliver(*args: str) -> str:
    out = io.StringIO()
    call_command("postmark_inbound_deliver", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_an_eml_file_goes_through_the_running_sandbox_to_the_app(
    inbound: Sandbox, received: list[InboundEvent], tmp_path: Path
) -> None:
    eml = tmp_path / "invoice.eml"
    eml.write_bytes(INVOICE_EML)
    output = deliver(str(eml), "--sandbox", inbound.url, "--recipient", "billing+3@in.example.com")
    assert "The sandbox delivers it to http://" in output and "The site answered 200." in output
    [event] = received
    assert event.raw_email == INVOICE_EML.decode() and event.mailbox_hash == "3"
    assert event.stripped_text_reply == "See attached."


def test_mail_written_in_options_goes_through_the_sandbox_to_the_app(
    inbound: Sandbox, received: list[InboundEvent], tmp_path: Path
) -> None:
    report = tmp_path / "report.csv"
    report.write_bytes(b"a,b\n1,2\n")
    deliver(
        "--sandbox",
        inbound.url,
        "--from",
        "Ann <ann@example.com>",
        "--to",
        "reply+c9@in.example.com",
        "--cc",
        "team@example.com",
        "--subject",
        "Re: figures",
        "--text",
        "Here they are.\n> old",
        "--html",
        "<p>Here they are.</p>",
        "--attach",
        str(report),
        "--header",
        "In-Reply-To: <order-9@shop.example.com>",
    )
    [event] = received
    assert (event.from_name, event.subject, event.mailbox_hash) == ("Ann", "Re: figures", "c9")
    assert event.stripped_text_reply == "Here they are."
    assert ("In-Reply-To", "<order-9@shop.example.com>") in event.headers
    [attachment] = event.attachments
    assert (attachment.name, attachment.content) == ("report.csv", b"a,b\n1,2\n")
    assert attachment.content_type == "text/csv"


def test_the_site_refusing_it_fails_the_command(
    inbound: Sandbox, received: list[InboundEvent], settings: Any
) -> None:
    assert inbound.inbound.url is not None
    inbound.inbound.url = inbound.inbound.url.replace(settings.POSTMARK_API_PASSWORD, "wrong")
    with pytest.raises(CommandError, match="answered 401"):
        deliver("--sandbox", inbound.url, "--from", "a@example.com", "--to", "b@example.com")
    assert received == []


def test_without_a_sandbox_the_command_says_how_to_start_one() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(CommandError, match="postmark_sandbox"):
        deliver("--sandbox", url, "--from", "a@example.com", "--to", "b@example.com")


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        ([], "an .eml file, or at least --from and --to"),
        (["--from", "a@example.com"], "--to"),
        (["--from", "a@example.com", "--to", "b@example.com", "--header", "NoColon"], "Name:"),
        (["--from", "nobody", "--to", "b@example.com"], "From"),
        (["--from", "a@example.com", "--to", "b@example.com", "--attach", "/no/such"], "read"),
    ],
)
def test_what_the_command_cannot_send_is_said(args: list[str], problem: str) -> None:
    with pytest.raises(CommandError, match=problem):
        deliver(*args)


def test_directly_to_the_site_with_its_own_webhook_credentials(
    app_server: LiveServer, received: list[InboundEvent]
) -> None:
    url = f"{app_server.url}/postmark/inbound/"
    output = deliver(
        "--webhook-url",
        url,
        "--no-raw-email",
        "--from",
        "a@example.com",
        "--to",
        "desk+5@in.example.com",
    )
    assert f"{url} answered 200: processed" in output
    [event] = received
    assert event.mailbox_hash == "5" and event.raw_email == ""


def test_directly_with_credentials_from_the_environment(
    app_server: LiveServer, monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    host = app_server.url.removeprefix("http://")
    monkeypatch.setenv(
        "POSTMARK_INBOUND_WEBHOOK_URL", f"http://someone:else@{host}/postmark/inbound/"
    )
    # The environment's credentials are used, not the site's own: these are refused.
    with pytest.raises(CommandError, match="answered 401"):
        deliver("--from", "a@example.com", "--to", "b@example.com")


def test_a_password_on_the_command_line_is_refused() -> None:
    with pytest.raises(CommandError, match="POSTMARK_INBOUND_WEBHOOK_URL"):
        deliver("--webhook-url", "http://user:secret@127.0.0.1:9/postmark/inbound/", "x.eml")


def test_the_sandbox_command_delivers_inbound_mail_next_to_its_webhooks() -> None:
    """The two commands as processes: the sandbox takes its inbound URL from the webhook URL's
    place (``/postmark/inbound/``, credentials kept), the deliver command reaches it."""
    port = free_port()
    with receiving() as receiver:
        hook = receiver.url.replace("http://", "http://postmark:env-password@")
        sandbox = subprocess.Popen(
            command("--port", str(port), "--webhook-delay", "0", "--no-raw-email"),
            cwd=ROOT,
            env=dict(os.environ, PYTHONUNBUFFERED="1", POSTMARK_SANDBOX_WEBHOOK_URL=hook),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            assert sandbox.stdout is not None
            line = read_line_with(sandbox.stdout, "Inbound mail to:")
            assert receiver.url.replace("/bounce/", "/inbound/") in line
            assert "basic auth as 'postmark'" in line and "env-password" not in line
            done = subprocess.run(
                [
                    *[sys.executable, "-m", "django", "postmark_inbound_deliver"],
                    *["--settings=tests.settings", "--sandbox", f"http://127.0.0.1:{port}"],
                    *["--from", "a@example.com", "--to", "desk+1@in.example.com"],
                ],
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert done.returncode == 0, done.stderr
            assert "The site answered 200." in done.stdout
        finally:
            sandbox.send_signal(signal.SIGTERM)
            sandbox.communicate(timeout=15)
    [(authorization, body)] = receiver.received
    assert authorization == "Basic " + base64.b64encode(b"postmark:env-password").decode()
    assert body["MailboxHash"] == "1" and "RawEmail" not in body
