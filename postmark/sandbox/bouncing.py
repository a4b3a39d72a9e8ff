"""Postmark's bounce-testing rules, as the sandbox plays them (the types are in postmark.api.spec).

Postmark bounces mail sent to ``<type>@bounce-testing.postmarkapp.com`` with that type at once
(case-insensitive; ``Hard_Bounce`` works too), and the header ``X-PM-Bounce-Type: <Type>`` picks
the type. The sandbox honours the header for any recipient: nothing leaves the machine anyway.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..api.spec import BOUNCE_TYPES, BounceType

BOUNCE_TESTING_DOMAIN = "bounce-testing.postmarkapp.com"
BOUNCE_TYPE_HEADER = "x-pm-bounce-type"


# "Hard_Bounce", "hard-bounce" and "HARDBOUNCE" all name HardBounce.
_BY_FOLDED_NAME = {name.lower(): bounce_type for name, bounce_type in BOUNCE_TYPES.items()}


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
