"""Facts about Postmark's API that the app and the sandbox both rely on (see POSTMARK.md).

One place, so that the core and its stand-in cannot drift apart: limits, error codes, the test
token, the bounce types. Nothing here imports from the rest of the package.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

#: The token Postmark validates a request with and delivers nothing for.
TEST_TOKEN = "POSTMARK_API_TEST"
#: The default message stream of a server.
DEFAULT_STREAM = "outbound"

# --- Limits -------------------------------------------------------------------------------------
MAX_RECIPIENTS = 50  # To, Cc and Bcc together
MAX_BATCH = 500  # messages per batch call
MAX_MESSAGE_BYTES = 10 * 1024 * 1024  # one message with its attachments
MAX_BATCH_BYTES = 50 * 1024 * 1024  # a whole batch request
#: Postmark takes inbound mail with up to this many bytes of attachments (decoded).
MAX_INBOUND_ATTACHMENT_BYTES = 35 * 1024 * 1024
MAX_TAG_LENGTH = 1000
#: Metadata: at most 10 fields, names of at most 20 characters, values of at most 80 (Postmark
#: refuses the message otherwise: "Invalid metadata content. Field names are limited to 20
#: characters and field values are limited to 80 characters in length.", ErrorCode 300).
MAX_METADATA_FIELDS = 10
MAX_METADATA_KEY_LENGTH = 20
MAX_METADATA_VALUE_LENGTH = 80
#: The Messages API's paging: ``count`` at most 500, ``count + offset`` at most 10,000.
MAX_SEARCH_COUNT = 500
MAX_SEARCH_WINDOW = 10_000
TRACK_LINKS_VALUES = ("None", "HtmlAndText", "HtmlOnly", "TextOnly")

# --- Webhooks -----------------------------------------------------------------------------------
#: The addresses Postmark publishes as the sources of its webhooks (a copy of support article 800,
#: "IPs for firewalls"), for POSTMARK_WEBHOOK_ALLOWED_IPS. Each attempt may come from any of
#: them, and Postmark may change them: check the article before relying on this copy.
WEBHOOK_SOURCE_ADDRESSES = ("3.134.147.250", "50.31.156.6", "50.31.156.77", "18.217.206.57")
#: Custom headers one webhook can carry (``HttpHeaders``).
MAX_WEBHOOK_HEADERS = 30

# --- Answers ------------------------------------------------------------------------------------
#: HTTP statuses after which Postmark certainly did not process the request, so a retry cannot
#: send twice. A 500 is not here: Postmark may have accepted the message before failing.
RETRYABLE_STATUSES = frozenset({429, 503})
#: API ErrorCodes the app reacts to.
#: "Bounce not found" (Postmark's list of API error codes: 407, next to 408 "Bounce query
#: exception"), answered with HTTP 422 like every API error, for GET /bounces/{id}, its dump
#: and its activation when no bounce has that ID.
ERROR_BOUNCE_NOT_FOUND = 407
ERROR_BAD_TOKEN = 10
ERROR_INACTIVE_RECIPIENTS = 406
#: "The 'From' address you supplied (...) is not a Sender Signature on your account", HTTP 422:
#: the From is neither a confirmed Sender Signature nor on a verified domain. It is what every
#: recorded answer for an unregistered sender shows, and what Django's default sender,
#: ``webmaster@localhost``, gets: that address is valid RFC 5322 (a domain needs no dot), so it
#: passes Postmark's address parsing (ErrorCode 300 answers "Illegal email address/domain" for
#: broken syntax, such as a missing "@" or a ">" in the domain) and fails the signature check.
ERROR_SENDER_SIGNATURE_NOT_FOUND = 400
#: Activating a bounce that cannot be (a spam complaint); the sandbox answers it so.
ERROR_CANNOT_ACTIVATE = 1003
#: The Bulk API is not enabled for the account (Postmark's support enables it on request).
#: Other clients report 14; unverified.
ERROR_BULK_NOT_ENABLED = 14


def can_send_from(domain: str) -> bool:
    """Whether any Postmark account could send from ``domain``. Sending needs a Sender
    Signature, confirmed by a mail to the address, or the domain verified by its public DNS
    records (DKIM, Return-Path): neither is possible for a single label (``localhost``, a bare
    host name) or a name under ``.localhost``, which never reach the public DNS (RFC 6761)."""
    name = domain.rstrip(".").lower()
    labels = name.split(".")
    return len(labels) > 1 and all(labels) and labels[-1] != "localhost"


@dataclass(frozen=True)
class BounceType:
    name: str  # ``Type``: route on this, never on the code
    code: int  # ``TypeCode``: informative only (spam complaints have arrived with 512)
    label: str  # ``Name``, as Postmark shows it
    description: str  # ``Description``, as Postmark words it
    #: The message did not reach the recipient (as opposed to an auto-reply, a subscribe or
    #: unsubscribe request, or a challenge, which also arrive as "bounces").
    failed_delivery: bool = False
    #: Postmark deactivates the address for this type (the sandbox plays it so; real payloads
    #: say it with their ``Inactive`` flag, which the app reads instead).
    deactivates: bool = False

    @property
    def record_type(self) -> str:
        """Spam complaints come as their own RecordType; every other type as "Bounce"."""
        return "SpamComplaint" if self.name == "SpamComplaint" else "Bounce"

    @property
    def suppression_reason(self) -> str:
        return "SpamComplaint" if self.name == "SpamComplaint" else "HardBounce"


#: Postmark's bounce types, by ``Type``.
BOUNCE_TYPES: Mapping[str, BounceType] = {
    bounce_type.name: bounce_type
    for bounce_type in (
        BounceType(
            "HardBounce",
            1,
            "Hard bounce",
            "The server was unable to deliver your message (ex: unknown user, mailbox not found).",
            failed_delivery=True,
            deactivates=True,
        ),
        BounceType(
            "Transient",
            2,
            "Message delayed",
            "The server could not temporarily deliver your message (ex: Message is delayed due to "
            "network troubles).",
            failed_delivery=True,
        ),
        BounceType("Unsubscribe", 16, "Unsubscribe request", "Unsubscribe or Remove request."),
        BounceType(
            "Subscribe",
            32,
            "Subscribe request",
            "Subscribe request from someone wanting to get added to the mailing list.",
        ),
        BounceType(
            "AutoResponder",
            64,
            "Auto responder",
            'Automatic email responder (ex: "Out of Office" or "On Vacation").',
        ),
        BounceType(
            "AddressChange", 128, "Address change", "The recipient has requested an address change."
        ),
        BounceType("DnsError", 256, "DNS error", "A temporary DNS error.", failed_delivery=True),
        BounceType(
            "SpamNotification",
            512,
            "Spam notification",
            "The message was delivered, but was either blocked by the user, or classified as "
            "spam, bulk mail, or had rejected content.",
            failed_delivery=True,
        ),
        BounceType(
            "OpenRelayTest",
            1024,
            "Open relay test",
            "The NDR is actually a test email message to see if the mail server is an open relay.",
        ),
        BounceType("Unknown", 2048, "Unknown", "Unable to classify the NDR.", failed_delivery=True),
        BounceType(
            "SoftBounce",
            4096,
            # Postmark's table of bounce types says "Soft bounce/Undeliverable" (and "Message
            # delayed/Undeliverable" for Transient), but its answers say "Soft bounce" (recorded
            # GET /bounces answers, and GET /deliverystats's example, which also has Transient's
            # "Message delayed"): the answers win.
            "Soft bounce",
            "Unable to temporarily deliver message (i.e. mailbox full, account disabled, exceeds "
            "quota, out of disk space).",
            failed_delivery=True,
        ),
        BounceType(
            "VirusNotification",
            8192,
            "Virus notification",
            "The bounce is actually a virus notification warning about a virus/code infected "
            "message.",
            failed_delivery=True,
        ),
        BounceType(
            "ChallengeVerification",
            16384,
            "Spam challenge verification",
            "The bounce is a challenge asking for verification you actually sent the email.",
        ),
        BounceType(
            "BadEmailAddress",
            100000,
            "Invalid email address",
            "The address is not a valid email address.",
            failed_delivery=True,
            deactivates=True,
        ),
        BounceType(
            "SpamComplaint",
            100001,
            "Spam complaint",
            "The subscriber explicitly marked this message as spam.",
            failed_delivery=True,
            deactivates=True,
        ),
        BounceType(
            "ManuallyDeactivated",
            100002,
            "Manually deactivated",
            "The email was manually deactivated.",
            failed_delivery=True,
            deactivates=True,
        ),
        BounceType(
            "Unconfirmed",
            100003,
            "Registration not confirmed",
            "The subscriber has not clicked on the confirmation link upon registration or import.",
            failed_delivery=True,
        ),
        BounceType(
            "Blocked",
            100006,
            "ISP block",
            "Blocked from this ISP due to content or blacklisting.",
            failed_delivery=True,
        ),
        BounceType(
            "SMTPApiError",
            100007,
            "SMTP API error",
            "An error occurred while accepting an email through the SMTP API.",
            failed_delivery=True,
        ),
        BounceType(
            "InboundError",
            100008,
            "Inbound error",
            "Unable to deliver inbound message to destination inbound hook.",
        ),
        BounceType(
            "DMARCPolicy",
            100009,
            "DMARC Policy",
            "Email rejected due DMARC Policy.",
            failed_delivery=True,
        ),
        BounceType(
            "TemplateRenderingFailed",
            100010,
            "Template rendering failed",
            "An error occurred while attempting to render your template.",
            failed_delivery=True,
        ),
    )
}
