"""The documentation's mailbox, as written there."""

from __future__ import annotations

from typing import Any

from postmark.inbound import InboundMail, mailbox


@mailbox("comments")
def comment(sender: Any, mail: InboundMail, **kwargs: Any) -> None:
    mail.reply_object.comments.create(email=mail.sender, text=mail.reply_text or mail.message.body)
