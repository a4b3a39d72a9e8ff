"""Message and Bounce rows as the receivers would leave them, for the overview's numbers."""

from __future__ import annotations

import uuid
from datetime import datetime

from postmark.models import Bounce, Message


def sent(
    when: datetime,
    *,
    n: int = 1,
    stream: str = "outbound",
    tag: str = "",
    delivered: bool = False,
    bounced: bool = False,
    complained: bool = False,
    opened: bool = False,
    clicked: bool = False,
    email: str = "someone@example.com",
) -> list[Message]:
    """``n`` accepted messages created at ``when``, with the lifecycle stamps asked for."""
    rows = [
        Message(
            message_id=uuid.uuid4(),
            status="sent",
            message_stream=stream,
            from_email="shop@example.com",
            to=email,
            tag=tag,
            delivered_at=when if delivered else None,
            bounced_at=when if bounced else None,
            complained_at=when if complained else None,
            opened_at=when if opened else None,
            clicked_at=when if clicked else None,
        )
        for _ in range(n)
    ]
    Message.objects.bulk_create(rows)
    Message.objects.filter(pk__in=[r.pk for r in rows]).update(created_at=when)
    if bounced or complained:
        Bounce.objects.bulk_create(
            Bounce(
                postmark_id=abs(hash(row.message_id)) % 10**15,
                type="SpamComplaint" if complained else "HardBounce",
                record_type="SpamComplaint" if complained else "Bounce",
                message_id=row.message_id,
                message_stream=stream,
                tag=tag,
                email=email,
                bounced_at=when,
            )
            for row in rows
        )
    return rows
