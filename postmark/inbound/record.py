"""The kept inbound message: ``InboundMessage``, one row per message Postmark posted, found by
Django and users as ``postmark.models.InboundMessage``.

The row is small on purpose: the mail itself stays where the webhook already stored it, once
(``webhook_event.body``, the JSON with ``RawEmail`` when Postmark sends it), and processing
reads it from there. What the row copies (sender, recipients, subject, attachment names) is cut
to its column, for lists and searches only; routing reads the full message.
"""

from __future__ import annotations

from django.db import models


class InboundMessage(models.Model):
    """One inbound message, kept once per Postmark MessageID, and where it is in its lifecycle:

    received ──> routed ──> processed | bounced | failed (retried, then kept until handled)
             └─> unrouted (no route matched: kept and visible; reroute it once a route does)
    """

    class Status(models.TextChoices):
        #: Kept, waiting to be routed and processed.
        RECEIVED = "received"
        #: A worker has it: routed to its mailbox, whose receivers are running.
        ROUTED = "routed"
        #: Its mailbox's receivers returned.
        PROCESSED = "processed"
        #: Its mailbox refused it: ``InboundMail.bounce()`` (a notice to the sender) or
        #: ``drop()`` (answered nobody). The note says why, and what the sender was told.
        BOUNCED = "bounced"
        #: Its mailbox raised (the error is kept): retried while attempts remain, then kept
        #: until someone reprocesses it.
        FAILED = "failed"
        #: No route matched.
        UNROUTED = "unrouted"

    #: Postmark's inbound MessageID; for a message without one, or with one longer than the
    #: column, "sha256:" and a hash of the body or of the ID (``postmark.inbound.intake``).
    message_id = models.CharField("Postmark MessageID", max_length=100, unique=True)
    #: The stored webhook that brought it: its body is the message. Deleting it (retention,
    #: ``postmark_forget``) deletes this record too: a record without its mail is nothing to
    #: process, and it names the addresses the deletion was for.
    webhook_event = models.ForeignKey(
        "postmark.WebhookEvent",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="inbound_messages",
    )
    status = models.CharField(max_length=16, choices=Status.choices)
    #: The mailbox its route named ("" until routed, and when unrouted).
    mailbox = models.CharField(max_length=100, blank=True)
    from_email = models.CharField("from", max_length=500, blank=True)
    to = models.CharField(max_length=1000, blank=True)
    original_recipient = models.CharField(max_length=500, blank=True)
    subject = models.CharField(max_length=1000, blank=True)
    mailbox_hash = models.CharField("MailboxHash", max_length=255, blank=True)
    attachment_count = models.PositiveIntegerField(default=0)
    #: The attachments' file names as ``InboundMail.attachments`` gives them (safe as file
    #: names: never a path), the first ``intake.LISTED_ATTACHMENTS`` of them.
    attachment_names = models.JSONField(default=list, blank=True)
    attachment_bytes = models.PositiveBigIntegerField("attachments' size in bytes", default=0)
    #: Runs of its mailbox (retries and reprocessing included; reprocessing starts again at 0).
    attempts = models.PositiveIntegerField(default=0)
    #: The last failure: the exception's type and message, and its traceback.
    error = models.TextField(blank=True)
    traceback = models.TextField(blank=True)
    #: Why it was refused: a reply route's refusal of its reply address ("Reply address
    #: refused (expired): ..."), its mailbox's note, and what its sender was told ("Notice:
    #: sent", "Notice not sent: automated (...)", "Dropped: no notice sent"), a line each.
    note = models.TextField(blank=True)
    received_at = models.DateTimeField(db_index=True)
    #: When a worker last took it (a "routed" row this old whose worker is gone is taken back).
    claimed_at = models.DateTimeField(null=True, blank=True)
    #: When it reached processed, bounced, unrouted or failed; retention counts from here.
    processed_at = models.DateTimeField(null=True, blank=True)
    #: When a failed message is retried next; empty once its attempts are spent.
    next_attempt_at = models.DateTimeField("next attempt at", null=True, blank=True)

    class Meta:
        app_label = "postmark"
        ordering = ["-received_at", "-pk"]
        verbose_name = "inbound message"
        indexes = [
            # Partial, so each holds only the rows it serves: those work is still due for
            # (retries, recovery: few at any time), and the finished ones by the time
            # retention counts from (written when a message finishes, not by the webhook).
            models.Index(
                fields=["status"],
                name="postmark_inbound_pending",
                condition=models.Q(status__in=["received", "routed", "failed"]),
            ),
            models.Index(
                fields=["processed_at"],
                name="postmark_inbound_finished",
                condition=models.Q(processed_at__isnull=False),
            ),
        ]
        permissions = [
            ("reprocess_inboundmessage", "Can reprocess inbound messages"),
            ("reroute_inboundmessage", "Can reroute inbound messages"),
        ]

    def __str__(self) -> str:
        return f"{self.subject or '(no subject)'} from {self.from_email or '(no sender)'}"
