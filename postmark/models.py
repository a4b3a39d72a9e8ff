"""Default storage. Written only by the receivers in ``postmark.receivers``."""

from __future__ import annotations

from django.db import models


class Message(models.Model):
    """One message sent (or refused, or suppressed) through Postmark, and its lifecycle."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        SENT = "sent"
        FAILED = "failed"
        SUPPRESSED = "suppressed"
        UNKNOWN = "unknown", "unknown (Postmark may have accepted it)"
        DELIVERED = "delivered"
        OPENED = "opened"
        CLICKED = "clicked"
        BOUNCED = "bounced"
        COMPLAINED = "complained", "spam complaint"

    message_id = models.UUIDField(
        "Postmark MessageID", null=True, blank=True, unique=True, editable=False
    )
    status = models.CharField(max_length=16, choices=Status.choices, db_index=True)
    message_stream = models.CharField(max_length=100, blank=True)
    from_email = models.CharField(max_length=500)
    to = models.TextField(blank=True)
    cc = models.TextField(blank=True)
    bcc = models.TextField(blank=True)
    subject = models.TextField(blank=True)
    tag = models.CharField(max_length=1000, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    error_code = models.IntegerField(null=True, blank=True)
    error = models.TextField("Postmark's answer or the error", blank=True)
    text_body = models.TextField(blank=True)
    html_body = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    opened_at = models.DateTimeField("first opened at", null=True, blank=True)
    clicked_at = models.DateTimeField("first clicked at", null=True, blank=True)
    bounced_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.subject or '(no subject)'} to {self.to or self.cc or self.bcc}"
