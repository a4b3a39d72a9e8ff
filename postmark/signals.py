"""Every signal django-postmark sends.

The backend and the webhook views only send these; storage and suppression are ordinary
receivers (``postmark.receivers``) that ``PostmarkConfig.ready()`` connects, each doing its work
only while its setting is on. Connect your own the same way.
"""

from django.dispatch import Signal

from .events import (
    AnyEvent,
    BounceEvent,
    ClickEvent,
    DeliveryEvent,
    InboundEvent,
    OpenEvent,
    SpamComplaintEvent,
    SubscriptionChangeEvent,
)

# Sent once per API call, before the payloads are built, with the messages of that call.
# Receivers may change the messages: drop recipients, add headers, set Postmark options.
# A message left with no recipient is not sent; its result has status "suppressed".
# (Strictly, once per batch of up to POSTMARK_BATCH_SIZE: a batch whose JSON would pass
# Postmark's 50 MB is then posted as several calls, each with its post_send.)
#   sender: the backend class
#   messages: list[EmailMessage], the messages of this API call
#   backend: the backend instance
pre_send = Signal()

# Sent once per API call, after it, with the messages of that call and one result for each.
#   sender: the backend class
#   messages: list[EmailMessage], the messages of this API call (suppressed ones included)
#   results: list[postmark.results.PostmarkResult], in the order of messages
#   exception: the PostmarkError that failed the whole call, or None
#   backend: the backend instance
# A receiver that raises is logged (logger "postmark") and stops neither the send nor the others:
# the mail has gone by then, and an exception would invite sending it again.
post_send = Signal()

# Sent once settling (postmark.operations.settle) has decided what became of a message whose
# outcome was unknown, after its Message row was written.
#   sender: postmark.models.Message
#   message: postmark.models.Message, the row as written
#   outcome: "found" (Postmark had it: the row is "sent", with Postmark's MessageID), "resent"
#            (not found, sent once more, and Postmark took it) or "failed" (it was not sent)
#   reason: str, what happened, as the row's error now says it
# A receiver that raises is logged (logger "postmark") and undoes nothing.
message_settled = Signal()

# Webhook signals. Each is sent inside the transaction that stores the webhook: a receiver
# that raises rolls back every receiver's work, the view answers 500 and Postmark retries.
#   sender: the event class (e.g. postmark.events.BounceEvent); EVENT_SIGNALS below says which
#           class goes with which signal
#   event: the typed event (a dataclass from postmark.events)
#   payload: dict, the JSON Postmark sent
#   webhook_event: postmark.models.WebhookEvent, the stored request
bounce_received = Signal()
spam_complaint_received = Signal()
delivery_received = Signal()
open_received = Signal()
click_received = Signal()
subscription_change_received = Signal()
# For inbound, event.message is a Django EmailMessage with the attachments attached.
inbound_received = Signal()

# Sent when a kept inbound message is processed (postmark.inbound), off the webhook's request,
# to the receivers of the mailbox its route named: a mailbox is the receivers connected with
# its Mailbox as sender (``@postmark.inbound.mailbox("support")`` connects one). They run in
# one transaction with the message's status: a receiver that raises rolls back every one's
# work, and the message is kept "failed", with the error, to be retried or reprocessed.
#   sender: postmark.inbound.Mailbox, the mailbox (``Mailbox.named("support")``)
#   mail: postmark.inbound.InboundMail: the message (a Django EmailMessage), the reply text,
#         the MailboxHash, the safe attachments and the InboundMessage record
inbound_routed = Signal()

#: The signal each event class is sent with; a class not here (UnknownEvent) is stored, not sent.
EVENT_SIGNALS: dict[type[AnyEvent], Signal] = {
    BounceEvent: bounce_received,
    SpamComplaintEvent: spam_complaint_received,
    DeliveryEvent: delivery_received,
    OpenEvent: open_received,
    ClickEvent: click_received,
    SubscriptionChangeEvent: subscription_change_received,
    InboundEvent: inbound_received,
}


def signal_for(event: AnyEvent) -> Signal | None:
    """The signal for this event: its own class's, else the nearest base class's in the table."""
    return next((EVENT_SIGNALS[k] for k in type(event).__mro__ if k in EVENT_SIGNALS), None)
