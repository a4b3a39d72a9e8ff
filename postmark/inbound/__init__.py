"""Inbound mail as a feature: each message the inbound webhook takes is kept once
(``postmark.models.InboundMessage``), routed by POSTMARK_INBOUND_ROUTES to a mailbox, and
processed off the request, on the task queue queued sending uses.

- ``record``: the kept row; ``intake``: keeping it (the ``inbound_received`` receiver's work);
- ``routes``: the routes (a reply route resolves a signed reply address), and the first that
  matches; ``mailboxes``: ``Mailbox``, ``@mailbox`` and the ``InboundMail`` a mailbox is
  given, which it can ``bounce()`` (a notice to the sender) or ``drop()``;
- ``handling``: processing one message, at most once; ``scheduling``: when (the task, "sync",
  ``reprocess``, ``reroute``, ``postmark_inbound``); ``expiry``: retention;
- ``replies``: signed reply addresses (``reply+<token>@``) and back to their object;
  ``notices``: answering a sender, never a machine, never in a loop.
"""

from .handling import NoReceiver, Outcome, Unprocessable, process, read_mail
from .mailboxes import InboundAttachment, InboundMail, Mailbox, mailbox, safe_filename
from .routes import Route, choose, configured_routes
from .scheduling import process_pending, reprocess, reroute

__all__ = [
    "InboundAttachment",
    "InboundMail",
    "Mailbox",
    "NoReceiver",
    "Outcome",
    "Route",
    "Unprocessable",
    "choose",
    "configured_routes",
    "mailbox",
    "process",
    "process_pending",
    "read_mail",
    "reprocess",
    "reroute",
    "safe_filename",
]
