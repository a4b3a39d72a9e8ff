"""The documentation's mailboxes, as written there (docs/inbound.rst: Reply addresses, and
Notices to the sender)."""

from __future__ import annotations

from typing import Any

from postmark.inbound import InboundMail, mailbox


@mailbox("comments")
def comment(sender: Any, mail: InboundMail, **kwargs: Any) -> None:
    mail.reply_object.comments.create(email=mail.sender, text=mail.reply_text or mail.message.body)


@mailbox("others")
def refuse(sender: Any, mail: InboundMail, **kwargs: Any) -> None:
    if mail.reply_problem:  # a reply whose address was changed, has expired, or whose post is gone
        mail.bounce("Replies to this notification are no longer taken: comment on the site.")
    else:
        mail.drop("not for any mailbox")
