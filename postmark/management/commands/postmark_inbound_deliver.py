"""``manage.py postmark_inbound_deliver``: inbound mail to the site, as Postmark posts it.

By default the running sandbox (``postmark_sandbox``) delivers it to its inbound URL, and the
command waits for the site's answer; with ``--webhook-url`` the command posts Postmark's JSON
to that URL itself. Either way the JSON is built by ``postmark.sandbox.inbound_payload``.
"""

from __future__ import annotations

import base64
import json
import mimetypes
import os
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from django.core.management.base import BaseCommand, CommandError, CommandParser

from postmark.conf import settings
from postmark.sandbox.inbound_payload import (
    MAX_EML_BYTES,
    AttachedFile,
    MailError,
    as_bytes,
    compose,
    payload,
)
from postmark.sandbox.webhook_sender import split_credentials
from postmark.webhooks.auth import webhook_credentials

#: The site's inbound URL for ``--webhook-url`` mode, credentials and all: out of ``ps``.
URL_VARIABLE = "POSTMARK_INBOUND_WEBHOOK_URL"
DEFAULT_SANDBOX = "http://127.0.0.1:8025"
_LOOPBACK = ("127.0.0.1", "localhost", "::1")


class Command(BaseCommand):
    help = (
        "Deliver inbound mail to the site as Postmark would: an .eml file, or one written with "
        "--from/--to/--subject/--text. The running postmark_sandbox posts it to its inbound "
        "URL; with --webhook-url (or the environment variable "
        f"{URL_VARIABLE}) this command posts it there itself, with the site's webhook "
        "credentials (or those in the variable's URL)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("eml", nargs="?", help="A message file (.eml); - reads stdin.")
        parser.add_argument("--from", dest="from_email", help="Name <address>, or an address.")
        parser.add_argument("--to", action="append", default=[], help="Repeat for more.")
        parser.add_argument("--cc", action="append", default=[], help="Repeat for more.")
        parser.add_argument("--subject", default="")
        parser.add_argument("--text", default="", help="The text body.")
        parser.add_argument("--html", default="", help="The HTML body.")
        parser.add_argument(
            "--attach", action="append", default=[], metavar="FILE", help="Repeat for more."
        )
        parser.add_argument(
            "--header", action="append", default=[], metavar="'NAME: VALUE'", help="Repeat."
        )
        parser.add_argument(
            "--recipient",
            default="",
            help="The address it is delivered to (OriginalRecipient; its +hash is the "
            "MailboxHash). Default: the first To. One on no header arrives as a Bcc.",
        )
        parser.add_argument(
            "--sandbox",
            default=None,
            help="The running sandbox's URL. Default: POSTMARK_API_URL when it is on this "
            f"machine, else {DEFAULT_SANDBOX}.",
        )
        parser.add_argument(
            "--webhook-url",
            default=os.environ.get(URL_VARIABLE) or None,
            help="Post to the site's inbound URL directly, without the sandbox. Credentials "
            f"belong in {URL_VARIABLE}, never here (every local user reads a command line).",
        )
        parser.add_argument(
            "--no-raw-email",
            dest="raw_email",
            action="store_false",
            help="With --webhook-url: leave RawEmail out (the sandbox follows its own setting).",
        )
        parser.add_argument(
            "--timeout", type=float, default=30.0, help="Seconds to wait for the site's answer."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        url = options["webhook_url"]
        if url and urlsplit(url).password and url != os.environ.get(URL_VARIABLE):
            raise CommandError(
                f"A password on the command line is readable by every local user: put the URL "
                f"in the environment variable {URL_VARIABLE} instead."
            )
        mail = self._mail(options)
        try:
            if url:
                self._post_directly(url, mail, options)
            else:
                self._through_sandbox(mail, options)
        except requests.RequestException as exc:
            raise CommandError(f"No answer: {exc}") from None

    def _mail(self, options: dict[str, Any]) -> bytes:
        """The message's MIME source, from the file or from the options."""
        if options["eml"]:
            stream = sys.stdin.buffer if options["eml"] == "-" else _open(options["eml"])
            with stream:
                data = stream.read(MAX_EML_BYTES + 1)
            if len(data) > MAX_EML_BYTES:
                raise CommandError(f"The message is over {MAX_EML_BYTES} bytes.")
            return data
        if not options["from_email"] or not options["to"]:
            raise CommandError("Give an .eml file, or at least --from and --to.")
        headers = []
        for header in options["header"]:
            name, colon, value = header.partition(":")
            if not colon:
                raise CommandError(f"--header takes 'Name: value', not {header!r}.")
            headers.append((name.strip(), value.strip()))
        attachments = [_attachment(path) for path in options["attach"]]
        try:
            message = compose(
                from_email=options["from_email"],
                to=options["to"],
                cc=options["cc"],
                subject=options["subject"],
                text=options["text"],
                html=options["html"],
                headers=headers,
                attachments=attachments,
            )
        except MailError as exc:
            raise CommandError(str(exc)) from None
        return as_bytes(message)

    def _through_sandbox(self, mail: bytes, options: dict[str, Any]) -> None:
        base = (options["sandbox"] or _local_api_url() or DEFAULT_SANDBOX).rstrip("/")
        try:
            answer = requests.post(
                f"{base}/sandbox/inbound",
                params={"recipient": options["recipient"]} if options["recipient"] else None,
                data=mail,
                headers={"Content-Type": "message/rfc822"},
                timeout=options["timeout"],
                allow_redirects=False,
            )
        except requests.ConnectionError:
            raise CommandError(
                f"No sandbox answers at {base}: start it with manage.py postmark_sandbox "
                "(--inbound-url), or give its URL with --sandbox."
            ) from None
        delivery = _json(answer)
        if answer.status_code != 200:
            raise CommandError(f"The sandbox refused it ({answer.status_code}): {_reason(answer)}")
        self.stdout.write(
            f"The sandbox delivers it to {delivery['Url']} (delivery #{delivery['ID']}, "
            f"MessageID {delivery['MessageID']})."
        )
        deadline = time.monotonic() + options["timeout"]
        while delivery["State"] == "pending" and not delivery["Attempts"]:
            if time.monotonic() > deadline:
                raise CommandError("No answer from the site yet; see the sandbox's page.")
            time.sleep(0.2)
            delivery = _json(requests.get(f"{base}/sandbox/inbound/{delivery['ID']}", timeout=5))
        last = delivery["Attempts"][-1]
        answered = last["Status"] or f"no answer ({last['Error']})"
        if delivery["State"] != "delivered":
            retried = " (the sandbox retries it)" if delivery["State"] == "pending" else ""
            raise CommandError(f"The site answered {answered}{retried}.")
        self.stdout.write(f"The site answered {answered}.")

    def _post_directly(self, url: str, mail: bytes, options: dict[str, Any]) -> None:
        try:
            body = payload(mail, recipient=options["recipient"], raw_email=options["raw_email"])
        except MailError as exc:
            raise CommandError(str(exc)) from None
        bare, authorization = split_credentials(url)
        credentials = webhook_credentials()  # the site's own, as Postmark would be given them
        if authorization is None and credentials:
            pair = ":".join(credentials[0]).encode()
            authorization = "Basic " + base64.b64encode(pair).decode()
        headers = {"Content-Type": "application/json", "User-Agent": "Postmark"}
        if authorization:
            headers["Authorization"] = authorization
        answer = requests.post(
            bare,
            data=json.dumps(body).encode(),
            headers=headers,
            timeout=options["timeout"],
            allow_redirects=False,  # a redirect would take the credentials elsewhere
        )
        if answer.status_code != 200:
            raise CommandError(f"{bare} answered {answer.status_code}: {_reason(answer)}")
        self.stdout.write(f"{bare} answered 200: {_reason(answer)} (MessageID {body['MessageID']})")


def _open(path: str) -> Any:
    try:
        return Path(path).open("rb")
    except OSError as exc:
        raise CommandError(f"Cannot read {path}: {exc.strerror}") from None


def _attachment(path: str) -> AttachedFile:
    """A file to attach: its name, its content and the type its name suggests."""
    file = Path(path)
    try:
        if file.stat().st_size > MAX_EML_BYTES:
            raise CommandError(f"{path} is larger than Postmark takes.")
        content = file.read_bytes()
    except OSError as exc:
        raise CommandError(f"Cannot read {path}: {exc.strerror}") from None
    kind = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
    return AttachedFile(file.name, content, kind)


def _local_api_url() -> str | None:
    """POSTMARK_API_URL when it names this machine (the sandbox, in development)."""
    url = str(getattr(settings, "POSTMARK_API_URL", "") or "")
    return url if urlsplit(url).hostname in _LOOPBACK else None


def _json(answer: requests.Response) -> dict[str, Any]:
    try:
        body = answer.json()
    except ValueError:
        raise CommandError(f"Not the sandbox's answer ({answer.status_code}).") from None
    return body if isinstance(body, dict) else {}


def _reason(answer: requests.Response) -> str:
    try:
        return str(answer.json().get("Message", ""))
    except (ValueError, AttributeError):
        return answer.text.strip().splitlines()[0][:200] if answer.text.strip() else ""
