"""Notices to the sender of inbound mail (a bounce, a rejection), sent through the app's own send
path: ``django.core.mail`` with the configured backend, so that ``pre_send``'s suppression
receiver applies to them as to any message.

A notice never answers a machine and never starts a loop (RFC 3834, automatic responses to
electronic mail): ``notice_refusal`` holds every rule, and ``send_notice`` sends only when it
finds none. Each notice is marked as an automatic reply, so that other responders (and this
app, should it come back) leave it unanswered. Whether it went, and why not, is the
``NoticeOutcome`` it returns, logged on the "postmark.inbound" logger.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from contextlib import suppress
from dataclasses import dataclass
from enum import StrEnum

from django.core.mail import EmailMessage
from django.core.mail.backends.base import BaseEmailBackend

from ..conf import settings
from ..events.inbound import InboundEvent
from ..events.mail import one_line
from ..exceptions import PostmarkError, UnsupportedMessageError
from ..results import Status
from ..sending.addresses import bare_address, format_address

__all__ = [
    "NOTICE_HEADER",
    "POSTMARK_INBOUND_DOMAIN",
    "NoticeOutcome",
    "NoticeReason",
    "notice_refusal",
    "send_notice",
]

logger = logging.getLogger("postmark.inbound")

#: Every notice carries this header (beside ``Auto-Submitted: auto-replied``): a message that
#: has it is a notice come back, and is never answered.
NOTICE_HEADER = "X-Postmark-Notice"
#: Postmark's own inbound domain: every address there is some server's inbound mailbox.
POSTMARK_INBOUND_DOMAIN = "inbound.postmarkapp.com"


class NoticeReason(StrEnum):
    """Why a notice went (``sent``) or did not (every other value)."""

    SENT = "sent"  # handed to the backend (queued, with the queued backend)
    NO_SENDER = "no_sender"  # no From address, or not one valid address
    LOOP = "loop"  # the message is a notice, or from this site's inbound domain or own address
    AUTOMATED = "automated"  # a header or the address says the sender is a machine or a list
    UNTRUSTED = "untrusted"  # marked as spam, or failed SPF: the From may be forged
    SUPPRESSED = "suppressed"  # the send path left the address out (the suppression list)
    FAILED = "failed"  # the send failed: nothing went
    UNKNOWN = "unknown"  # Postmark may or may not have taken it (a timeout, a 5xx...)


@dataclass(frozen=True)
class NoticeOutcome:
    """What ``send_notice`` did; true when the notice was sent."""

    sent: bool
    reason: NoticeReason
    #: For people: which rule refused it, or what the send path answered (one line, short).
    detail: str = ""

    def __bool__(self) -> bool:
        return self.sent


# What the headers may say about a sender that is not a person, RFC 3834 and common practice.
_PRECEDENCE = frozenset({"bulk", "list", "junk", "auto_reply"})
#: Headers that a list or a responder adds, whatever their value.
_MACHINE_HEADERS = ("list-id", "list-unsubscribe", "list-post", "x-autoreply", "x-autorespond")
#: Local parts (lowercased, without "+tag", "-", "_" or ".") that begin so are machines'.
_MACHINE_NAMES = ("mailerdaemon", "postmaster", "noreply", "donotreply", "bounce", "listserv")
_SEPARATORS = re.compile(r"[-_.]")
# A msg-id as In-Reply-To may repeat it: printable ASCII without space, "<" or ">" inside, so
# no line break can ride on it into a header.
_MESSAGE_ID = re.compile(r"<[!-;=?-~]{1,250}>", re.ASCII)
_SUBJECT_LENGTH = 200
_DETAIL_LENGTH = 120


def send_notice(
    event: InboundEvent,
    text: str,
    *,
    subject: str | None = None,
    from_email: str | None = None,
    connection: BaseEmailBackend | None = None,
) -> NoticeOutcome:
    """Answer the sender of ``event`` with ``text`` (plain text), unless ``notice_refusal``
    finds a reason not to. ``subject`` defaults to "Re: " and the message's subject,
    ``from_email`` to DEFAULT_FROM_EMAIL, ``connection`` to ``get_connection()``.

    Raises nothing for a send that fails (``PostmarkError``, ``OSError``): the outcome says so.
    """
    outcome, recipient = _checked(event, from_email)
    if outcome is None:
        notice = EmailMessage(
            subject=_subject(subject, event.subject),
            body=text,
            from_email=from_email or settings.DEFAULT_FROM_EMAIL,
            to=[recipient],
            headers=_headers_for(event),
            connection=connection,
        )
        outcome = _send(notice)
    logger.info(
        "Notice to the sender of inbound message %s: %s%s",
        _short(event.message_id) or "(no MessageID)",
        outcome.reason,
        f" ({outcome.detail})" if outcome.detail else "",
    )
    return outcome


def notice_refusal(event: InboundEvent, *, from_email: str | None = None) -> NoticeOutcome | None:
    """Why no notice (from ``from_email``, DEFAULT_FROM_EMAIL by default) may answer ``event``,
    as an outcome that was not sent; None when one may."""
    return _checked(event, from_email)[0]


def _checked(event: InboundEvent, from_email: str | None) -> tuple[NoticeOutcome | None, str]:
    """``notice_refusal``'s answer, and the address a notice would go to."""
    recipient = _recipient(event.from_email)
    if not recipient:
        return _refused(NoticeReason.NO_SENDER, "no valid From address"), ""
    return _refusal(event, recipient, from_email), recipient


def _refusal(event: InboundEvent, recipient: str, from_email: str | None) -> NoticeOutcome | None:
    headers = _read_headers(event.headers)
    if NOTICE_HEADER.lower() in headers:
        return _refused(NoticeReason.LOOP, f"the message is a notice ({NOTICE_HEADER})")
    domain = recipient.rpartition("@")[2]
    if domain in _own_domains():
        return _refused(NoticeReason.LOOP, f"{domain} is an inbound domain of this site")
    if recipient == bare_address(from_email or settings.DEFAULT_FROM_EMAIL):
        return _refused(NoticeReason.LOOP, "the message is from the notice's own address")
    automated = _automated_header(headers) or _automated_address(recipient)
    if automated:
        return _refused(NoticeReason.AUTOMATED, automated)
    untrusted = _untrusted(headers)
    if untrusted:
        return _refused(NoticeReason.UNTRUSTED, untrusted)
    return None


def _recipient(from_email: str) -> str | None:
    """The sender's bare address (its domain in IDNA), lowercased; None unless the field is
    exactly one address, on one line."""
    try:
        return bare_address(format_address(from_email.strip(), "From")) or None
    except UnsupportedMessageError:
        return None


def _read_headers(pairs: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """The values of each header, by its lowercased name."""
    headers: dict[str, list[str]] = {}
    for name, value in pairs:
        headers.setdefault(name.strip().lower(), []).append(value)
    return headers


def _automated_header(headers: dict[str, list[str]]) -> str:
    """What in the headers shows an automatic sender ("" if nothing)."""
    for value in headers.get("auto-submitted", ()):
        if _first_word(value) != "no":
            return f"Auto-Submitted: {_short(value)}"
    for value in headers.get("precedence", ()):
        if _first_word(value) in _PRECEDENCE:
            return f"Precedence: {_short(value)}"
    for value in headers.get("return-path", ()):
        if "".join(value.split()) in ("", "<>"):
            return "an empty Return-Path (a delivery report)"
    for value in headers.get("x-auto-response-suppress", ()):
        if _first_word(value) not in ("", "none"):
            return f"X-Auto-Response-Suppress: {_short(value)}"
    for value in headers.get("content-type", ()):
        if _first_word(value) == "multipart/report":
            return "Content-Type: multipart/report (a delivery or read report)"
    present = [name for name in _MACHINE_HEADERS if name in headers]
    return f"a {present[0]} header (a list or a responder)" if present else ""


def _automated_address(address: str) -> str:
    local = address.rpartition("@")[0].partition("+")[0]
    if local.startswith("owner-") or local.endswith(("-request", "-owner")):
        return f"{_short(local)}@ is a mailing list's address"
    if _SEPARATORS.sub("", local).startswith(_MACHINE_NAMES):
        return f"{_short(local)}@ is a machine's address"
    return ""


def _untrusted(headers: dict[str, list[str]]) -> str:
    # A notice to a forged From is backscatter: mail to someone who never wrote.
    for value in headers.get("x-spam-status", ()):
        if value.strip().lower().startswith("yes"):
            return "marked as spam (X-Spam-Status)"
    for value in headers.get("received-spf", ()):
        if _first_word(value).startswith("fail"):
            return "the sender failed SPF (Received-SPF: fail)"
    return ""


def _own_domains() -> set[str]:
    domains = {POSTMARK_INBOUND_DOMAIN}
    configured = settings.POSTMARK_INBOUND_DOMAIN
    if isinstance(configured, str) and configured:
        domains.add(configured.lower())
        with suppress(UnsupportedMessageError):  # and in IDNA, as senders' domains are read
            domains.add(format_address(f"x@{configured}").rpartition("@")[2].lower())
    return domains


def _headers_for(event: InboundEvent) -> dict[str, str]:
    headers = {
        "Auto-Submitted": "auto-replied",  # RFC 3834: no responder answers it
        "X-Auto-Response-Suppress": "All",  # nor does Exchange's out-of-office
        NOTICE_HEADER: "1",
    }
    for name, value in event.headers:
        if name.strip().lower() == "message-id":
            original = value.strip()
            if _MESSAGE_ID.fullmatch(original):
                headers["In-Reply-To"] = headers["References"] = original
            break
    return headers


def _subject(given: str | None, original: str) -> str:
    if given is not None:
        return one_line(given)
    original = one_line(original)[:_SUBJECT_LENGTH]
    if not original:
        return "Re: your message"
    return original if original.lower().startswith("re:") else f"Re: {original}"


def _send(notice: EmailMessage) -> NoticeOutcome:
    try:
        count = notice.send()
    except (PostmarkError, OSError) as error:
        if _status(notice) == Status.UNKNOWN:
            return NoticeOutcome(False, NoticeReason.UNKNOWN, _short(str(error)))
        return NoticeOutcome(False, NoticeReason.FAILED, _short(str(error)))
    status = _status(notice)
    if status is None:  # a backend other than this app's: its count is all it says
        if count:
            return NoticeOutcome(True, NoticeReason.SENT)
        return NoticeOutcome(False, NoticeReason.FAILED, "the backend sent nothing")
    if status == Status.SUPPRESSED:
        return NoticeOutcome(False, NoticeReason.SUPPRESSED, "the sender is suppressed")
    if status in (Status.SENT, Status.DELAYED, Status.QUEUED):
        return NoticeOutcome(True, NoticeReason.SENT, status)
    if status == Status.UNKNOWN:
        return NoticeOutcome(False, NoticeReason.UNKNOWN, "Postmark may have accepted it")
    return NoticeOutcome(False, NoticeReason.FAILED, status)


def _status(notice: EmailMessage) -> str | None:
    """The status of the result this app's backends leave on a message (``message.postmark``)."""
    result = getattr(notice, "postmark", None)
    return None if result is None else str(result.status)


def _refused(reason: NoticeReason, detail: str) -> NoticeOutcome:
    return NoticeOutcome(False, reason, detail)


def _first_word(value: str) -> str:
    return value.partition(";")[0].strip().lower()


def _short(value: str) -> str:
    """One line, cut: details and logs repeat what senders wrote."""
    line = one_line(value)
    return line if len(line) <= _DETAIL_LENGTH else line[: _DETAIL_LENGTH - 3] + "..."
