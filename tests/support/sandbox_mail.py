"""Mail that bounces in the sandbox, sent through the real backend (the sandbox must be running
with ``POSTMARK_API_URL`` pointing at it, as the ``postmark_sandbox`` fixture does)."""

from __future__ import annotations

from collections.abc import Sequence

from django.core.mail import EmailMessage, get_connection


def bounce(
    addresses: Sequence[str], bounce_type: str = "HardBounce", **options: str
) -> list[EmailMessage]:
    """One message to each address, each bouncing with ``bounce_type`` (a Postmark type name)."""
    messages = [
        EmailMessage(
            "Hello", "Hi", "shop@example.com", [address], headers={"X-PM-Bounce-Type": bounce_type}
        )
        for address in addresses
    ]
    for message in messages:
        for name, value in options.items():
            setattr(message, name, value)
    get_connection().send_messages(messages)
    return messages
