"""Mailboxes and what they are given: a mailbox is the receivers of ``signals.inbound_routed``
connected with its ``Mailbox`` as sender, and each is given an ``InboundMail``.

::

    @mailbox("support")
    def open_ticket(sender, mail, **kwargs):
        Ticket.objects.create(sender=mail.sender, text=mail.reply_text or mail.message.body)

is ``inbound_routed.connect(open_ticket, sender=Mailbox.named("support"))``: disconnect it, or
connect a test double, as with any receiver.
"""

from __future__ import annotations

import os
import threading
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, ClassVar, TypeVar

from django.core.files.base import ContentFile
from django.core.mail import EmailMultiAlternatives

from ..events import InboundEvent
from ..events.mail import parse_addresses
from ..signals import inbound_routed
from .record import InboundMessage
from .replies import BadReplyAddress

Receiver = TypeVar("Receiver", bound=Callable[..., Any])


class Mailbox:
    """A mailbox's name as a signal sender. There is one object per name (``Mailbox("x") is
    Mailbox.named("x")``): Django matches a receiver's sender by identity."""

    __slots__ = ("name",)
    _known: ClassVar[dict[str, Mailbox]] = {}
    _lock: ClassVar[threading.Lock] = threading.Lock()
    name: str

    def __new__(cls, name: str) -> Mailbox:
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"A mailbox is named by a non-empty string, not {name!r}.")
        with cls._lock:
            known = cls._known.get(name)
            if known is None:
                known = cls._known[name] = super().__new__(cls)
                known.name = name
            return known

    @classmethod
    def named(cls, name: str) -> Mailbox:
        return cls(name)

    def __repr__(self) -> str:
        return f"Mailbox({self.name!r})"

    def __reduce__(self) -> tuple[type[Mailbox], tuple[str]]:
        return (Mailbox, (self.name,))  # a copy or an unpickled one is the same object

    @property
    def has_receivers(self) -> bool:
        return inbound_routed.has_listeners(sender=self)


def mailbox(
    name: str, *, weak: bool = True, dispatch_uid: str | None = None
) -> Callable[[Receiver], Receiver]:
    """Connect the decorated function to ``inbound_routed`` for the mailbox ``name``, as
    Django's ``@receiver`` does (weakly by default: keep the function referenced, e.g. at a
    module's top level)."""
    sender = Mailbox.named(name)

    def connect(receiver: Receiver) -> Receiver:
        inbound_routed.connect(receiver, sender=sender, weak=weak, dispatch_uid=dispatch_uid)
        return receiver

    return connect


# --- Attachments ---------------------------------------------------------------------------

#: Longest file name given, in characters (file systems take 255 bytes; room for a suffix).
MAX_NAME = 100
_RESERVED = frozenset(
    ["CON", "PRN", "AUX", "NUL", *(f"COM{n}" for n in range(10)), *(f"LPT{n}" for n in range(10))]
)
_UNSAFE = str.maketrans({char: "_" for char in '<>:"|?*'})


def safe_filename(name: str, number: int) -> str:
    """A file name to save an attachment under, never a path: the name's last component,
    without control or format characters, characters Windows refuses, leading dots or spaces;
    at most MAX_NAME characters (the extension kept); ``attachment-<number>`` if nothing is
    left. Linear in the name's length."""
    last = name.replace("\\", "/").rsplit("/", 1)[-1]
    kept = "".join(c for c in last if unicodedata.category(c)[0] not in "CZ" or c == " ")
    kept = kept.translate(_UNSAFE).strip().lstrip(". ")
    stem, extension = os.path.splitext(kept)
    if len(extension) > 16:
        stem, extension = kept, ""
    kept = (stem[: MAX_NAME - len(extension)].rstrip(". ") + extension).rstrip(". ")
    if stem.split(".")[0].upper() in _RESERVED:
        kept = "_" + kept[: MAX_NAME - 1]
    return kept or f"attachment-{number}"


@dataclass(frozen=True)
class InboundAttachment:
    """One attachment of the JSON Postmark posted, decoded."""

    #: ``safe_filename`` of the name as sent: use it for any file you write.
    name: str
    content: bytes
    content_type: str
    content_id: str
    #: As the sender wrote it: show it, never open a file by it.
    original_name: str

    def as_file(self) -> ContentFile[bytes]:
        """The content as a Django ``File`` named ``name``, e.g. for ``FileField.save()``."""
        return ContentFile(self.content, name=self.name)


def attachments_of(event: InboundEvent) -> list[InboundAttachment]:
    return [
        InboundAttachment(
            safe_filename(a.name, number), a.content, a.content_type, a.content_id, a.name
        )
        for number, a in enumerate(event.attachments, start=1)
    ]


# --- The mail a mailbox is given -------------------------------------------------------------


@dataclass(frozen=True)
class PendingNotice:
    """The notice ``InboundMail.bounce()`` asked for, sent once its mailbox's work commits."""

    text: str
    subject: str | None = None
    from_email: str | None = None


@dataclass(eq=False)
class InboundMail:
    """One inbound message, as routes and mailboxes see it."""

    #: The kept row (status, attempts, mailbox...); processing writes its outcome.
    record: InboundMessage
    #: Every field Postmark posted, typed (``postmark.events.InboundEvent``).
    event: InboundEvent
    #: The mailbox its route named (None while it is being routed).
    mailbox: Mailbox | None = None
    #: What the matching route gave: its ``match`` callable's value, else its reply's object.
    match: Any = None
    #: The object the reply address it was sent to was made for, when a ``reply_for`` route
    #: took it (``postmark.inbound.replies``).
    reply_object: Any = None
    #: Why a ``reply_for`` route refused the reply address it was sent to (``.reason``: a
    #: ``ReplyProblem``), when none took it: a later route's mailbox can answer accordingly.
    reply_problem: BadReplyAddress | None = None
    #: Why ``bounce()`` or ``drop()`` refused it (None: it was taken).
    bounce_note: str | None = field(default=None, init=False)
    #: The notice ``bounce()`` asked for (None after ``drop()``).
    notice: PendingNotice | None = field(default=None, init=False)

    @property
    def message(self) -> EmailMultiAlternatives:
        """The mail as a Django message, attachments included (built on first use, from
        ``RawEmail`` when Postmark sent it: see ``InboundEvent.message``)."""
        return self.event.message

    @property
    def reply_text(self) -> str:
        """Postmark's ``StrippedTextReply``: the new text of a reply, quoted text removed
        ("" when Postmark found no quoted text to take away)."""
        return self.event.stripped_text_reply

    @property
    def mailbox_hash(self) -> str:
        """What followed "+" in the address it was sent to (``reply+HASH@...``)."""
        return self.event.mailbox_hash

    @property
    def sender(self) -> str:
        """The sender's address, lowercased."""
        return (self.event.from_email or self.event.from_full.email).strip().lower()

    @cached_property
    def recipients(self) -> tuple[str, ...]:
        """Every address it was sent to (OriginalRecipient, To, Cc, Bcc), lowercased, each
        once, in that order."""
        event = self.event
        found = [event.original_recipient]
        for full, plain in ((event.to_full, event.to), (event.cc_full, event.cc)):
            found += [a.email for a in full] if full else [e for _, e in parse_addresses(plain)]
        found += [a.email for a in event.bcc_full] or [e for _, e in parse_addresses(event.bcc)]
        return tuple(dict.fromkeys(e.strip().lower() for e in found if e and e.strip()))

    @cached_property
    def attachments(self) -> list[InboundAttachment]:
        return attachments_of(self.event)

    def bounce(
        self,
        text: str,
        *,
        note: str | None = None,
        subject: str | None = None,
        from_email: str | None = None,
    ) -> None:
        """Answer the sender with a notice, ``text`` (plain text), and record the mail as
        bounced rather than processed, ``note`` (``text`` by default) saying why.

        The notice goes once the mailbox's work is committed, and only then: never for a run
        that fails, never twice for one message. ``postmark.inbound.notices.send_notice`` sends
        it (``subject`` and ``from_email`` are its), so it never answers a machine, a list, a
        suppressed address or a notice; what became of it joins the record's note.
        """
        self.bounce_note = _text("text", text) if note is None else _text("note", note)
        self.notice = PendingNotice(_text("text", text), subject, from_email)

    def drop(self, note: str) -> None:
        """Record the mail as bounced without answering anyone, ``note`` saying why. Of
        ``bounce()`` and ``drop()``, the last call decides."""
        self.bounce_note = _text("note", note)
        self.notice = None


def _text(name: str, value: object) -> str:
    # Raised in the mailbox that passed it, where its traceback points, not after the commit.
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, not {type(value).__name__}.")
    return value
