"""What the send path keeps about one Django message while it goes: one typed holder per message
(``SendState``), reached through ``state_of``, instead of ad-hoc attributes on the message.

The message's public attributes stay as documented: ``message.postmark`` (its result),
``message.postmark_messages`` (a ``merge_data`` message's per-recipient copies), and
``message.suppressed_recipients`` are set for the caller; the package itself reads the holder.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.core.mail import EmailMessage

from ..results import PostmarkResult

# One attribute holds the state. A WeakKeyDictionary would need none, but a copy's state refers
# to its parent and the parent's to its copies: as dictionary values those references would keep
# both keys alive for ever. On the message, the state goes when the message goes.
_ATTRIBUTE = "_postmark_send_state"


@dataclass(eq=False)
class SendState:
    #: The id of the message this state belongs to: a copy of the message (``copy.copy``, which
    #: copies its attributes) gets a state of its own rather than sharing this one.
    owner: int
    #: The latest result; the public ``message.postmark`` is the same object.
    result: PostmarkResult | None = None
    #: The ``merge_data`` message this one is a per-recipient copy of (``split_by_recipient``).
    parent: EmailMessage | None = None
    #: A ``merge_data`` message's per-recipient copies (public as ``postmark_messages``).
    copies: list[EmailMessage] = field(default_factory=list)
    #: A Bulk API message's generated id per To recipient (``recipients.new_link_ids``), keyed
    #: by the address as given: a string or a (name, address) pair.
    link_ids: dict[Any, str] = field(default_factory=dict)
    #: A message rebuilt by the queue's worker: the ``link_id`` of its log row written when it
    #: was queued, which the worker's log updates.
    log_id: str | None = None


def state_of(message: EmailMessage) -> SendState:
    """The message's holder, made on first use."""
    state = vars(message).get(_ATTRIBUTE)
    if not isinstance(state, SendState) or state.owner != id(message):
        state = SendState(owner=id(message))
        setattr(message, _ATTRIBUTE, state)
    return state


def set_result(message: EmailMessage, result: PostmarkResult) -> None:
    """Give the message its result, in the holder and as the documented ``message.postmark``."""
    state_of(message).result = result
    setattr(message, "postmark", result)  # noqa: B010 (a documented attribute Django lacks)


def result_of(message: EmailMessage) -> PostmarkResult:
    """The result the send path gave the message (every message of a send gets one)."""
    result = state_of(message).result
    if result is None:
        raise LookupError("This message has no result from the send path yet.")
    return result


def message_results(messages: Sequence[EmailMessage]) -> list[PostmarkResult]:
    return [result_of(message) for message in messages]


def set_copies(message: EmailMessage, copies: list[EmailMessage]) -> None:
    """Link a ``merge_data`` message and its per-recipient copies (each with a state of its
    own), and publish the copies as the documented ``message.postmark_messages``."""
    state_of(message).copies = copies
    for one in copies:
        state_of(one).parent = message
    setattr(message, "postmark_messages", copies)  # noqa: B010 (documented, as above)


def set_suppressed(message: EmailMessage, dropped: list[Any]) -> None:
    """The documented ``message.suppressed_recipients``: who the send left out, and why not."""
    setattr(message, "suppressed_recipients", dropped)  # noqa: B010 (documented, as above)
