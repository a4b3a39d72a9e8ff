"""Routes: POSTMARK_INBOUND_ROUTES, read into ``Route`` objects, and the first one that matches.

Each route is a dict naming its ``mailbox`` and any of these criteria, all of which must match
(a route with none matches every message: a catch-all):

- ``to``: an address, or a list of them, any recipient (OriginalRecipient, To, Cc, Bcc) has,
  compared case-insensitively, with or without its ``+hash`` (``support@x`` takes mail to
  ``support+urgent@x``);
- ``to_pattern``: a regular expression found in a recipient's address (lowercased);
- ``from``: the sender's address, or a list of them (any case); ``from_pattern``: a regular
  expression found in it (lowercased);
- ``mailbox_hash``: a regular expression found in the MailboxHash (``^reply-`` for
  ``reply-...``; anchor both ends for an exact match);
- ``subject``: a regular expression found in the subject;
- ``reply_for``: a model (``"app_label.ModelName"`` or the class), or a list of them: the mail
  is a reply to a signed reply address (``postmark.inbound.replies``) made for an instance of
  one, found in its MailboxHash first, then in each recipient's address at
  POSTMARK_INBOUND_DOMAIN; the instance is ``mail.reply_object`` (and ``mail.match``);
- ``match``: a callable, or its dotted path, given the ``InboundMail``; the route matches when
  it returns a true value, which the mailbox finds as ``mail.match``.

The criteria are tried in that order, the callable last: the cheap ones decide first, and a
reply's object is read from the database only for mail that passed them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from django.apps import apps
from django.core.exceptions import ImproperlyConfigured
from django.db.models import Model
from django.utils.module_loading import import_string

from ..conf import settings
from .mailboxes import InboundMail
from .replies import TOKEN_SHAPE, BadReplyAddress, ReplyProblem, resolve_reply

SETTING = "POSTMARK_INBOUND_ROUTES"
CRITERIA = (
    "to",
    "to_pattern",
    "from",
    "from_pattern",
    "mailbox_hash",
    "subject",
    "reply_for",
    "match",
)
_EXAMPLE = '[{"mailbox": "support", "to": "support@in.example.com"}, {"mailbox": "everything"}]'


@dataclass(frozen=True)
class Route:
    mailbox: str
    to: frozenset[str] = frozenset()
    to_pattern: re.Pattern[str] | None = None
    sender: frozenset[str] = frozenset()
    sender_pattern: re.Pattern[str] | None = None
    mailbox_hash: re.Pattern[str] | None = None
    subject: re.Pattern[str] | None = None
    reply_for: tuple[type[Model], ...] = ()
    match: Callable[[InboundMail], Any] | None = None

    def accepts(self, mail: InboundMail) -> tuple[bool, Any]:
        """Whether the route takes the mail, and what the mailbox finds as ``mail.match``:
        what its callable returned, else the reply's object (or None). A ``reply_for`` route
        sets ``mail.reply_object`` (and ``mail.reply_problem``) as it reads the reply."""
        if self.to and not any(
            address in self.to or _without_hash(address) in self.to for address in mail.recipients
        ):
            return False, None
        pattern = self.to_pattern
        if pattern and not any(pattern.search(address) for address in mail.recipients):
            return False, None
        if self.sender and mail.sender not in self.sender:
            return False, None
        if self.sender_pattern and not self.sender_pattern.search(mail.sender):
            return False, None
        if self.mailbox_hash and not self.mailbox_hash.search(mail.mailbox_hash):
            return False, None
        if self.subject and not self.subject.search(mail.event.subject):
            return False, None
        if self.reply_for:
            mail.reply_object = replied_to(mail, self.reply_for)
            if mail.reply_object is None:
                return False, None
        if self.match is None:
            return True, mail.reply_object
        found = self.match(mail)  # it may read mail.reply_object
        return bool(found), (found if found is not True else None)


def replied_to(mail: InboundMail, models: tuple[type[Model], ...]) -> Model | None:
    """The object of the first reply address the mail was sent to that resolves to an instance
    of ``models``; None if none does, the first refusal worth telling kept as
    ``mail.reply_problem``. Its expiry is checked at the time the mail arrived: however late
    a worker takes it, a reply sent in time is taken."""
    for token in reply_tokens(mail):
        try:
            found = resolve_reply(token, model=models, at=mail.record.received_at)
        except BadReplyAddress as refused:
            if _worth_telling(token, refused, mail.reply_problem):
                mail.reply_problem = refused
            continue
        mail.reply_problem = None  # an earlier route's refusal does not concern this reply
        return found
    return None


def reply_tokens(mail: InboundMail) -> list[str]:
    """Where a reply's token may be, each once: the MailboxHash (Postmark's reading of the
    address it received the mail at), then what follows "+" in each recipient's address at
    POSTMARK_INBOUND_DOMAIN (a reply address has one; Postmark's hash address has none)."""
    found = [mail.mailbox_hash.strip().lower()]
    domain = settings.POSTMARK_INBOUND_DOMAIN
    if isinstance(domain, str) and domain:
        suffix = "@" + domain.strip().lower()
        for address in mail.recipients:
            if address.endswith(suffix):
                prefix, plus, token = address[: -len(suffix)].rpartition("+")
                if plus and prefix:
                    found.append(token)
    return [token for token in dict.fromkeys(found) if token]


def _worth_telling(token: str, refused: BadReplyAddress, kept: BadReplyAddress | None) -> bool:
    """Whether a refusal is kept as the mail's reply problem: a "malformed" one only for what
    has the shape of a token (plus-addressed mail to support+urgent@ is no refused reply),
    and an address made for another model only while nothing says more."""
    if refused.reason == ReplyProblem.MALFORMED and not TOKEN_SHAPE.fullmatch(token):
        return False
    return kept is None or kept.reason == ReplyProblem.WRONG_MODEL


def _without_hash(address: str) -> str:
    local, at, domain = address.rpartition("@")
    return f"{local.split('+', 1)[0]}@{domain}" if at and "+" in local else address


def choose(mail: InboundMail, routes: Sequence[Route]) -> Route | None:
    """The first route that takes the mail (``mail.match`` and ``mail.reply_object`` set from
    it), or None; ``mail.reply_problem`` says why a reply route refused a reply address."""
    mail.match = mail.reply_problem = None
    for route in routes:
        mail.reply_object = None  # only the route that takes the mail gives it one
        accepted, found = route.accepts(mail)
        if accepted:
            mail.match = found
            return route
    mail.reply_object = None
    return None


def configured_routes() -> list[Route]:
    """POSTMARK_INBOUND_ROUTES as routes; ImproperlyConfigured naming the setting and the
    route at fault when it cannot be read."""
    value = settings.POSTMARK_INBOUND_ROUTES
    if not isinstance(value, list | tuple):
        raise ImproperlyConfigured(f"{SETTING} must be a list of routes, e.g. {_EXAMPLE}.")
    return [_read(number, declared) for number, declared in enumerate(value)]


def route_problems() -> list[str]:
    """What is wrong with POSTMARK_INBOUND_ROUTES, one sentence each (for the system check)."""
    value = settings.POSTMARK_INBOUND_ROUTES
    if not isinstance(value, list | tuple):
        return [f"{SETTING} must be a list of routes, e.g. {_EXAMPLE}."]
    problems = []
    for number, declared in enumerate(value):
        try:
            _read(number, declared)
        except ImproperlyConfigured as exc:
            problems.append(str(exc))
    return problems


def _read(number: int, declared: Any) -> Route:
    where = f"{SETTING}[{number}]"
    if not isinstance(declared, dict):
        raise ImproperlyConfigured(f"{where} must be a dict, e.g. {_EXAMPLE}.")
    unknown = sorted(str(key) for key in declared if key not in ("mailbox", *CRITERIA))
    if unknown:
        # A misspelt criterion must not leave a catch-all behind.
        raise ImproperlyConfigured(
            f"{where} has unknown keys {unknown}: a route has a 'mailbox' and any of "
            f"{', '.join(CRITERIA)}."
        )
    name = declared.get("mailbox")
    if not isinstance(name, str) or not name.strip() or len(name) > 100:
        raise ImproperlyConfigured(
            f"{where} must name its mailbox: 'mailbox' is a non-empty string (at most 100 "
            "characters)."
        )
    return Route(
        mailbox=name,
        to=_addresses(where, "to", declared.get("to")),
        to_pattern=_pattern(where, "to_pattern", declared.get("to_pattern"), re.IGNORECASE),
        sender=_addresses(where, "from", declared.get("from")),
        sender_pattern=_pattern(where, "from_pattern", declared.get("from_pattern"), re.IGNORECASE),
        mailbox_hash=_pattern(where, "mailbox_hash", declared.get("mailbox_hash")),
        subject=_pattern(where, "subject", declared.get("subject")),
        reply_for=_models(where, declared.get("reply_for")),
        match=_callable(where, declared.get("match")),
    )


def _addresses(where: str, key: str, value: Any) -> frozenset[str]:
    if value is None:
        return frozenset()
    given = [value] if isinstance(value, str) else value
    if not isinstance(given, list | tuple | set | frozenset) or not all(
        isinstance(a, str) and "@" in a for a in given
    ):
        raise ImproperlyConfigured(
            f"{where}['{key}'] must be an email address or a list of them, e.g. "
            '"support@in.example.com".'
        )
    return frozenset(a.strip().lower() for a in given)


def _pattern(where: str, key: str, value: Any, flags: int = 0) -> re.Pattern[str] | None:
    if value is None:
        return None
    if not isinstance(value, str | re.Pattern):
        raise ImproperlyConfigured(f"{where}['{key}'] must be a regular expression (a str).")
    try:
        return re.compile(value, flags) if isinstance(value, str) else value
    except re.error as exc:
        raise ImproperlyConfigured(
            f"{where}['{key}'] is not a regular expression Python reads: {exc}."
        ) from None


def _models(where: str, value: Any) -> tuple[type[Model], ...]:
    if value is None:
        return ()
    given = value if isinstance(value, list | tuple) else [value]
    if not given:
        # An empty list would match no reply: a route that can never take anything.
        raise ImproperlyConfigured(f"{where}['reply_for'] names no model.")
    if not apps.is_installed("django.contrib.contenttypes"):
        raise ImproperlyConfigured(
            f"{where}['reply_for'] needs django.contrib.contenttypes in INSTALLED_APPS: a reply "
            "address names its object's content type."
        )
    return tuple(dict.fromkeys(_model(where, item) for item in given))


def _model(where: str, value: Any) -> type[Model]:
    if isinstance(value, type) and issubclass(value, Model):
        return value
    try:
        found = apps.get_model(value) if isinstance(value, str) else None
    except (LookupError, ValueError):
        found = None
    if found is None:
        raise ImproperlyConfigured(
            f"{where}['reply_for'] must name installed models as \"app_label.ModelName\" (or "
            f"give their classes): {value!r} is not one."
        )
    return found


def _callable(where: str, value: Any) -> Callable[[InboundMail], Any] | None:
    if value is None or callable(value):
        return value
    if not isinstance(value, str):
        raise ImproperlyConfigured(f"{where}['match'] must be a callable or its dotted path.")
    try:
        found = import_string(value)
    except ImportError as exc:
        raise ImproperlyConfigured(f"{where}['match'] cannot be imported: {exc}") from None
    if not callable(found):
        raise ImproperlyConfigured(f"{where}['match'] names {value!r}, which is not callable.")
    return cast(Callable[[InboundMail], Any], found)
