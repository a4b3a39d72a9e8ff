"""One Django message for many recipients, each with their own template model, metadata and
headers: ``merge_data``'s message per To recipient (sent in batches), and the Bulk API's one
request for all of them.

The per-recipient options are keyed by address, as written in ``to`` or as the bare address
(any case): ``merge_data = {"ann@example.com": {"name": "Ann"}}``. A recipient missing from them
gets the shared ``template_model`` (and ``metadata``, ``extra_headers``) alone.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from django.core.mail import EmailMessage

from ..exceptions import UnsupportedMessageError
from ..message import is_template
from ..results import PostmarkResult, Status
from .addresses import bare_address, format_address
from .payload import headers_of, metadata_of
from .state import set_copies, set_result, state_of

#: The Metadata key of the id generated for each Bulk API recipient (``Message.link_id``): its
#: Delivery, Bounce... webhooks carry it back, since Postmark names no MessageID in the answer.
LINK_KEY = "django-postmark-link-id"


def has_merge_data(message: EmailMessage) -> bool:
    return getattr(message, "merge_data", None) is not None


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


def refuse_cc_and_bcc(message: EmailMessage, what: str) -> None:
    # Each To recipient gets a message of their own: a Cc or Bcc would get every one of them.
    if message.cc or message.bcc:
        raise UnsupportedMessageError(
            f"{what} sends each To recipient a message of their own; a Cc or Bcc recipient would "
            "get a copy of every one. Put them in To (with their own data) instead.",
            field="cc" if message.cc else "bcc",
        )


def split_by_recipient(message: EmailMessage) -> list[EmailMessage]:
    """``merge_data``: a copy of the template message for each To recipient, with the shared
    ``template_model`` under that recipient's ``merge_data`` (and likewise ``metadata`` under
    ``merge_metadata``, ``extra_headers`` under ``merge_headers``).

    Each copy gets its own result; the message keeps them in ``postmark_messages`` and, once
    sent, a summary result as ``postmark`` (``settle``).
    """
    if not is_template(message):
        raise UnsupportedMessageError(
            "merge_data fills each recipient's TemplateModel: it needs template_id or "
            "template_alias (or bulk = True, which fills {{placeholders}} in the content).",
            field="merge_data",
        )
    refuse_cc_and_bcc(message, "merge_data")
    shared_model = dict(getattr(message, "template_model", None) or {})
    shared_metadata = dict(getattr(message, "metadata", None) or {})
    copies = []
    for address in message.to:
        one = copy.copy(message)
        one.to = [address]
        # The Postmark options are the caller's attributes, which EmailMessage does not declare.
        own_model = per_recipient(message, "merge_data", address)
        setattr(one, "template_model", {**shared_model, **own_model})  # noqa: B010
        own_metadata = per_recipient(message, "merge_metadata", address)
        setattr(one, "metadata", {**shared_metadata, **own_metadata} or None)  # noqa: B010
        one.extra_headers = {
            **message.extra_headers,
            **per_recipient(message, "merge_headers", address),
        }
        for option in ("merge_data", "merge_metadata", "merge_headers"):
            setattr(one, option, None)
        copies.append(one)
    set_copies(message, copies)
    return copies


def settle(messages: Iterable[EmailMessage]) -> None:
    """Give each message that ``split_by_recipient`` split the summary of its copies' results.

    Called after each batch's results, in the caller's thread where every result is handled (a
    message's copies may span batches): each call sums up what has come so far, and the last
    call, after the last batch, sees every result.
    """
    parents = {
        id(parent): parent
        for message in messages
        if (parent := state_of(message).parent) is not None
    }
    for parent in parents.values():
        set_result(parent, summary(state_of(parent).copies))


def summary(copies: list[EmailMessage]) -> PostmarkResult:
    """Accepted ("sent") when every recipient's message was (or was suppressed); "queued" when
    the others are queued; else the first other result's status and error, with how many went."""
    results = [state_of(one).result for one in copies]
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


def bulk_recipients(message: EmailMessage, link_ids: Mapping[str, str]) -> list[dict[str, Any]]:
    """The Bulk API's ``Messages``: one per To recipient, with its model, metadata (the
    generated link id included) and headers."""
    refuse_cc_and_bcc(message, "The Bulk API")
    shared_model = dict(getattr(message, "template_model", None) or {})
    recipients = []
    for address in link_ids:  # the To addresses, each once
        metadata = per_recipient(message, "merge_metadata", address)
        metadata[LINK_KEY] = link_ids[address]
        recipient: dict[str, Any] = {
            "To": format_address(address, "To"),
            "TemplateModel": {**shared_model, **per_recipient(message, "merge_data", address)},
            "Metadata": metadata_of(metadata),
        }
        headers = per_recipient(message, "merge_headers", address)
        if headers:
            recipient["Headers"] = headers_of(headers)
        recipients.append(recipient)
    return recipients


def new_link_ids(message: EmailMessage) -> dict[str, str]:
    """A generated id for each To recipient of a Bulk API message, kept in its state for the
    log's rows."""
    link_ids = {address: str(uuid.uuid4()) for address in message.to}
    state_of(message).link_ids = link_ids
    return link_ids
