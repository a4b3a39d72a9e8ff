"""Each message of a send, per recipient: the split (``merge_data``'s message per To recipient,
the Bulk API's recipients with their own model, metadata and headers), the calls the messages go
in, and the one typed holder (``SendState``) the send path keeps about each message instead of
ad-hoc attributes on it.

The per-recipient options are keyed by address, as written in ``to`` or as the bare address
(any case): ``merge_data = {"ann@example.com": {"name": "Ann"}}``. A recipient missing from them
gets the shared ``template_model`` (and ``metadata``, ``extra_headers``) alone.

The message's public attributes stay as documented: ``message.postmark`` (its result),
``message.postmark_messages`` (a ``merge_data`` message's per-recipient copies), and
``message.suppressed_recipients`` are set for the caller; the package itself reads the holder.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.core.mail import EmailMessage

from ..conf import DEFAULT_LINK_FIELD
from ..exceptions import BatchError, UnsupportedMessageError
from ..message import CallKey, Defaults
from ..results import PostmarkResult, Status
from .addresses import bare_address
from .metadata import add_link_id, metadata_of
from .payload import BulkRecipient, to_payload

_FINAL_OK = (Status.SENT, Status.SUPPRESSED)  # compared with ==: plain strings match too

# One attribute holds the state. A WeakKeyDictionary would need none, but a copy's state refers
# to its parent and the parent's to its copies: as dictionary values those references would keep
# both keys alive for ever. On the message, the state goes when the message goes.
_ATTRIBUTE = "_postmark_send_state"


@dataclass(eq=False)
class SendState:
    #: The id of the message this state belongs to: a copy of the message (``copy.copy``, which
    #: copies its attributes) gets a state of its own rather than sharing this one.
    owner: int
    #: The ``merge_data`` message this one is a per-recipient copy of (``plan_calls``).
    parent: EmailMessage | None = None
    #: A ``merge_data`` message's per-recipient copies (public as ``postmark_messages``).
    copies: list[EmailMessage] = field(default_factory=list)
    #: A Bulk API message's generated id per To recipient (``payloads_of``), keyed
    #: by the address as given: a string or a (name, address) pair. (Any other message's id
    #: travels in its payload, and then on its result: ``PostmarkResult.link_id``.)
    link_ids: dict[Any, str] = field(default_factory=dict)
    #: A message rebuilt by the queue's worker: the ``link_id`` of its log row written when it
    #: was queued, which the worker's log updates.
    log_id: str | None = None
    #: Rebuilt by the queue's worker: its log rows were written when it was queued.
    queued: bool = False


def state_of(message: EmailMessage) -> SendState:
    """The message's holder, made on first use: only a message that needs more than a result
    gets one (a ``merge_data`` message and its copies, a Bulk API message, a queued one)."""
    state = known_state(message)
    if state is None:
        state = SendState(owner=id(message))
        setattr(message, _ATTRIBUTE, state)
    return state


def known_state(message: EmailMessage) -> SendState | None:
    """The message's holder if it has one; never makes one. Most messages need none, and each
    attribute set on a message past the first may cost it an attribute dict of its own (about
    800 bytes on CPython; the result, ``message.postmark``, is the one every message gets)."""
    # getattr, not vars(message): vars() makes that dict.
    state = getattr(message, _ATTRIBUTE, None)
    return state if isinstance(state, SendState) and state.owner == id(message) else None


def set_result(message: EmailMessage, result: PostmarkResult) -> None:
    """Give the message its result: the documented ``message.postmark``, the one place it is
    kept."""
    setattr(message, "postmark", result)  # noqa: B010 (a documented attribute Django lacks)


def result_of(message: EmailMessage) -> PostmarkResult:
    """The result the send path gave the message (every message of a send gets one)."""
    result = getattr(message, "postmark", None)
    if not isinstance(result, PostmarkResult):
        raise LookupError("This message has no result from the send path yet.")
    return result


def message_results(messages: Sequence[EmailMessage]) -> list[PostmarkResult]:
    return [result_of(message) for message in messages]


def set_suppressed(message: EmailMessage, dropped: list[Any]) -> None:
    """The documented ``message.suppressed_recipients``: who the send left out, and why not."""
    setattr(message, "suppressed_recipients", dropped)  # noqa: B010 (documented, as above)


#: The default Metadata field (POSTMARK_LINK_FIELD) of the id generated for every message, and for
#: each Bulk API recipient (``Message.link_id``): Postmark's search finds the message by it, and
#: its webhooks carry it back (a Bulk API answer names no MessageID).
LINK_KEY = DEFAULT_LINK_FIELD

# --- Before pre_send: the messages as calls ------------------------------------------------------


def plan_calls(
    messages: Sequence[EmailMessage], keys: Sequence[CallKey], fail_silently: bool
) -> dict[CallKey, list[EmailMessage]]:
    """The messages grouped by their call's key (``postmark.message.call_key``), each
    ``merge_data`` message (not bulk) replaced by its per-recipient copies. A message refused
    here, or left without recipients (Django's own backends skip those; so do we, visibly), gets
    its result now."""
    calls: dict[CallKey, list[EmailMessage]] = {}
    split: list[EmailMessage] = []
    for message, key in zip(messages, keys, strict=True):
        template, bulk, _ = key
        parts = [message]
        if getattr(message, "merge_data", None) is not None and not bulk:
            try:
                parts = _copies(message, template)
            except UnsupportedMessageError as error:
                refuse(message, error, fail_silently)
                continue
            split.append(message)
        for part in parts:
            if part.recipients():
                calls.setdefault(key, []).append(part)
            else:
                nobody = "The message has no recipients; nothing was sent."
                set_result(part, PostmarkResult(Status.FAILED, message=nobody))
    for message in split:
        _give_own_options(message)
    return calls


def _copies(message: EmailMessage, template: bool) -> list[EmailMessage]:
    """``merge_data``: a copy of the template message for each To recipient (which
    ``_give_own_options`` then gives that recipient's own options).

    Each copy gets its own result; the message keeps them in ``postmark_messages`` and, once
    sent, a summary result as ``postmark`` (``settle``).
    """
    if not template:
        raise UnsupportedMessageError(
            "merge_data fills each recipient's TemplateModel: it needs template_id or "
            "template_alias (or bulk = True, which fills {{placeholders}} in the content).",
            field="merge_data",
        )
    _refuse_cc_and_bcc(message, "merge_data")
    copies = []
    for address in message.to:
        one = copy.copy(message)
        one.to = [address]
        if hasattr(one, "postmark"):  # copied from an earlier send of the message: not its own
            del one.postmark
        copies.append(one)
        state_of(one).parent = message
    state_of(message).copies = copies
    setattr(message, "postmark_messages", copies)  # noqa: B010 (documented, as above)
    return copies


def _give_own_options(message: EmailMessage) -> None:
    """Each copy of a ``merge_data`` message: the shared ``template_model`` under its
    recipient's ``merge_data`` (and likewise ``metadata`` under ``merge_metadata``,
    ``extra_headers`` under ``merge_headers``)."""
    shared_model = dict(getattr(message, "template_model", None) or {})
    shared_metadata = dict(getattr(message, "metadata", None) or {})
    for one in state_of(message).copies:
        model, metadata, headers = _own_options(message, one.to[0])
        # The Postmark options are the caller's attributes, which EmailMessage does not declare.
        setattr(one, "template_model", {**shared_model, **model})  # noqa: B010
        setattr(one, "metadata", {**shared_metadata, **metadata} or None)  # noqa: B010
        one.extra_headers = {**message.extra_headers, **headers}
        for option in ("merge_data", "merge_metadata", "merge_headers"):
            setattr(one, option, None)


# --- After pre_send: each message's payload ------------------------------------------------------


def payloads_of(
    messages: Sequence[EmailMessage], defaults: Defaults, fail_silently: bool, bulk: bool
) -> list[dict[str, Any] | None]:
    """One call's payloads, one per message; None for a message not sent (every recipient
    suppressed by ``pre_send``, or refused), whose result is set here."""
    payloads: list[dict[str, Any] | None] = []
    for message in messages:
        payload = None
        if not message.recipients():
            nobody = "Every recipient was suppressed; nothing was sent."
            set_result(message, PostmarkResult(Status.SUPPRESSED, message=nobody))
        else:
            try:
                if bulk:
                    payload = to_payload(message, defaults, _bulk_recipients(message, defaults))
                else:
                    # A fresh id each time (the same message object sent twice is two messages
                    # to find), carried by the payload alone: the message gets no attribute for
                    # it (``send_loop.finish_batch`` puts it on the result).
                    payload = to_payload(message, defaults, link_id=str(uuid.uuid4()))
            except UnsupportedMessageError as error:
                refuse(message, error, fail_silently)
        payloads.append(payload)
    return payloads


def _bulk_recipients(message: EmailMessage, defaults: Defaults) -> list[BulkRecipient]:
    """The Bulk API's recipients: one per To address (each once), with its own model, metadata
    (and the generated link id, kept in the message's state for the log's rows) and headers."""
    _refuse_cc_and_bcc(message, "The Bulk API")
    shared_model = dict(getattr(message, "template_model", None) or {})
    shared = metadata_of({**defaults.metadata, **(getattr(message, "metadata", None) or {})})
    link_ids = {address: str(uuid.uuid4()) for address in message.to}
    state_of(message).link_ids = link_ids
    recipients = []
    for address, link_id in link_ids.items():
        model, metadata, headers = _own_options(message, address)
        own = metadata_of(metadata)
        # Postmark merges each recipient's Metadata over the shared one: checked as merged.
        add_link_id({**shared, **own}, defaults.link_field, link_id)
        own[defaults.link_field] = link_id
        recipients.append(BulkRecipient(address, {**shared_model, **model}, own, headers))
    return recipients


def refuse(message: EmailMessage, error: UnsupportedMessageError, fail_silently: bool) -> None:
    """A message Postmark would refuse: raise, or with fail_silently give it a failed result."""
    if not fail_silently:
        raise error
    set_result(message, PostmarkResult.from_error(error, message))


def per_recipient(message: EmailMessage, option: str, address: Any) -> dict[str, Any]:
    """The value of a per-recipient option (``merge_data``...) for one To address."""
    values: Mapping[str, Any] | None = getattr(message, option, None)
    if not values:
        return {}
    if isinstance(address, str) and address in values:
        return dict(values[address] or {})
    wanted = bare_address(address)
    for key, value in values.items():
        if bare_address(key) == wanted:
            return dict(value or {})
    return {}


def _own_options(message: EmailMessage, address: Any) -> tuple[dict[str, Any], ...]:
    """A To address's own ``merge_data``, ``merge_metadata`` and ``merge_headers``."""
    return tuple(
        per_recipient(message, option, address)
        for option in ("merge_data", "merge_metadata", "merge_headers")
    )


def _refuse_cc_and_bcc(message: EmailMessage, what: str) -> None:
    # Each To recipient gets a message of their own: a Cc or Bcc would get every one of them.
    if message.cc or message.bcc:
        raise UnsupportedMessageError(
            f"{what} sends each To recipient a message of their own; a Cc or Bcc recipient would "
            "get a copy of every one. Put them in To (with their own data) instead.",
            field="cc" if message.cc else "bcc",
        )


# --- After the calls: the results ----------------------------------------------------------------


def settle(messages: Iterable[EmailMessage]) -> None:
    """Give each message that ``merge_data`` split the summary of its copies' results.

    Called after each batch's results, in the caller's thread where every result is handled (a
    message's copies may span batches): each call sums up what has come so far, and the last
    call, after the last batch, sees every result.
    """
    parents = {
        id(parent): parent
        for message in messages
        if (state := known_state(message)) is not None and (parent := state.parent) is not None
    }
    for parent in parents.values():
        set_result(parent, summary(state_of(parent).copies))


def summary(copies: list[EmailMessage]) -> PostmarkResult:
    """Accepted ("sent") when every recipient's message was (or was suppressed); "queued" when
    the others are queued; else the first other result's status and error, with how many went."""
    results = [getattr(one, "postmark", None) for one in copies]
    recipients = [r for result in results if result for r in result.recipients]
    done = [result for result in results if result is not None]
    accepted = sum(result.accepted for result in done)
    # Queued (QueuedPostmarkBackend): not sent yet, not failed either.
    queued = sum(result.status == Status.QUEUED and not result.accepted for result in done)
    others = [
        r for r in done if not r.accepted and r.status not in (Status.SUPPRESSED, Status.QUEUED)
    ]
    text = f"{accepted} of {len(copies)} recipients' messages accepted."
    if queued and not others and len(done) == len(copies):
        text = f"{queued} of {len(copies)} recipients' messages queued for sending."
        return PostmarkResult(Status.QUEUED, recipients=recipients, message=text)
    if others or len(done) < len(copies):
        worst = others[0] if others else None
        return PostmarkResult(
            worst.status if worst else Status.UNKNOWN,
            recipients=recipients,
            error_code=worst.error_code if worst else None,
            message=f"{text} {worst.message if worst else 'Some have no result yet.'}",
            error=worst.error if worst else None,
        )
    status = Status.SENT if accepted else Status.SUPPRESSED
    return PostmarkResult(status, recipients=recipients, error_code=0, message=text)


def tally(messages: Sequence[EmailMessage], fail_silently: bool) -> int:
    """How many of a send's messages Postmark accepted ("sent", "delayed", a Bulk API request's
    "queued"); without fail_silently, raise for the failures (``BatchError`` for several)."""
    results = message_results(messages)
    sent = sum(result.accepted for result in results)
    failures = [
        (message, result.error)
        for message, result in zip(messages, results, strict=True)
        if result.status not in _FINAL_OK and result.error is not None
    ]
    if fail_silently or not failures:
        return sent
    errors = {id(error) for _, error in failures}
    if sent == 0 and len(errors) == 1 and len(failures) == len(messages):
        raise failures[0][1]  # one error failed the whole send: that error, as it was raised
    raise BatchError(failures, sent)
