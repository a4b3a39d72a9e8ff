"""The example's mailboxes, named by POSTMARK_INBOUND_ROUTES in settings.py and connected when
``ExampleConfig.ready()`` imports this module: a reply to a post's notification becomes a
comment on that post; a reply whose address was refused (changed, expired, or its post deleted)
is answered with a notice; any other mail is dropped.

A mailbox runs on the task worker (``db_worker``), in one transaction with its message's record
(``postmark.models.InboundMessage``): if it raises, no comment is kept and the message is retried.
"""

from __future__ import annotations

from typing import Any

from postmark.inbound import InboundMail, Mailbox, mailbox

from .models import EMAIL_LENGTH

#: Anyone can write to the address of a notification they received: a comment is cut here.
MAX_COMMENT = 10_000


@mailbox("comments")
def comment(sender: Mailbox, mail: InboundMail, **kwargs: Any) -> None:
    # The route's reply_for found the post the signed address was made for.
    post = mail.reply_object
    # Postmark's StrippedTextReply leaves the quoted notification out; without one, the body.
    text = (mail.reply_text or mail.message.body).strip()
    if not text:
        mail.drop("An empty reply: no comment.")
        return
    if len(mail.sender) > EMAIL_LENGTH:
        mail.drop("The sender's address is longer than any real one.")
        return
    post.comments.create(email=mail.sender, text=text[:MAX_COMMENT])


@mailbox("others")
def refuse(sender: Mailbox, mail: InboundMail, **kwargs: Any) -> None:
    if mail.reply_problem:  # a reply whose address was changed, has expired, or whose post is gone
        mail.bounce("Replies to this notification are no longer taken: comment on the site.")
    else:
        mail.drop("Not for any mailbox.")
