"""Postmark's bounce types and its bounce-testing rules, as the sandbox plays them.

Postmark bounces mail sent to ``<type>@bounce-testing.postmarkapp.com`` with that type at once
(case-insensitive; ``Hard_Bounce`` works too), and the header ``X-PM-Bounce-Type: <Type>`` picks
the type. The sandbox honours the header for any recipient: nothing leaves the machine anyway.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

BOUNCE_TESTING_DOMAIN = "bounce-testing.postmarkapp.com"
BOUNCE_TYPE_HEADER = "x-pm-bounce-type"


@dataclass(frozen=True)
class BounceType:
    name: str  # Postmark's ``Type``
    code: int  # ``TypeCode``
    label: str  # ``Name``
    description: str
    #: Postmark deactivates the address: it lands on the suppression list and later sends to it
    #: are refused with ErrorCode 406.
    deactivates: bool = False

    @property
    def record_type(self) -> str:
        return "SpamComplaint" if self.name == "SpamComplaint" else "Bounce"

    @property
    def suppression_reason(self) -> str:
        return "SpamComplaint" if self.name == "SpamComplaint" else "HardBounce"


_TYPES = [
    BounceType(
        "HardBounce",
        1,
        "Hard bounce",
        "The server was unable to deliver your message (ex: unknown user, mailbox not found).",
        deactivates=True,
    ),
    BounceType(
        "Transient",
        2,
        "Message delayed",
        "The server could not temporarily deliver your "
        "message (ex: Message is delayed due to network troubles).",
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
    BounceType("DnsError", 256, "DNS error", "A temporary DNS error."),
    BounceType(
        "SpamNotification",
        512,
        "Spam notification",
        "The message was delivered, but "
        "was either blocked by the user, or classified as spam, bulk mail, or had rejected "
        "content.",
    ),
    BounceType(
        "OpenRelayTest",
        1024,
        "Open relay test",
        "The NDR is actually a test email message to see if the mail server is an open relay.",
    ),
    BounceType("Unknown", 2048, "Unknown", "Unable to classify the NDR."),
    BounceType(
        "SoftBounce",
        4096,
        "Soft bounce/Undeliverable",
        "Unable to temporarily deliver "
        "message (i.e. mailbox full, account disabled, exceeds quota, out of disk space).",
    ),
    BounceType(
        "VirusNotification",
        8192,
        "Virus notification",
        "The bounce is actually a virus notification warning about a virus/code infected message.",
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
        deactivates=True,
    ),
    BounceType(
        "SpamComplaint",
        100001,
        "Spam complaint",
        "The subscriber explicitly marked this message as spam.",
        deactivates=True,
    ),
    BounceType(
        "ManuallyDeactivated",
        100002,
        "Manually deactivated",
        "The email was manually deactivated.",
        deactivates=True,
    ),
    BounceType(
        "Unconfirmed",
        100003,
        "Registration not confirmed",
        "The subscriber has not clicked on the confirmation link upon registration or import.",
    ),
    BounceType(
        "Blocked", 100006, "ISP block", "Blocked from this ISP due to content or blacklisting."
    ),
    BounceType(
        "SMTPApiError",
        100007,
        "SMTP API error",
        "An error occurred while accepting an email through the SMTP API.",
    ),
    BounceType(
        "InboundError",
        100008,
        "Inbound error",
        "Unable to deliver inbound message to destination inbound hook.",
    ),
    BounceType("DMARCPolicy", 100009, "DMARC Policy", "Email rejected due DMARC Policy."),
    BounceType(
        "TemplateRenderingFailed",
        100010,
        "Template rendering failed",
        "An error occurred while attempting to render your template.",
    ),
]

BOUNCE_TYPES: Mapping[str, BounceType] = {bounce_type.name: bounce_type for bounce_type in _TYPES}
# "Hard_Bounce", "hard-bounce" and "HARDBOUNCE" all name HardBounce.
_BY_FOLDED_NAME = {bounce_type.name.lower(): bounce_type for bounce_type in _TYPES}


def find_bounce_type(name: str) -> BounceType | None:
    """The bounce type a (local part or header) name stands for, or None."""
    folded = name.strip().lower().replace("_", "").replace("-", "").replace(" ", "")
    return _BY_FOLDED_NAME.get(folded)


def bounce_type_for(address: str, headers: Iterable[tuple[str, str]] = ()) -> BounceType | None:
    """How mail to ``address`` (with these message headers) bounces; None if it is delivered."""
    for name, value in headers:
        if name.strip().lower() == BOUNCE_TYPE_HEADER:
            found = find_bounce_type(value)
            if found is not None:
                return found
    local, _, domain = address.rpartition("@")
    if domain.lower() != BOUNCE_TESTING_DOMAIN:
        return None
    return find_bounce_type(local)
