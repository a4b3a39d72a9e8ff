"""The default storage: the rows the default receivers, the queue, the operations and the admin
write (see each model), through ``postmark.storage`` where a write must be one statement."""

from __future__ import annotations

from django.db import models

from .api.spec import DEFAULT_STREAM
from .installation.package import require_installed_app
from .results import Status as SendStatus

# Before the first model class: without "postmark" in INSTALLED_APPS, Django would refuse it with
# a RuntimeError about its app_label. Everything that stores or reads rows gets here first
# (``postmark.urls`` through the webhook views), so this is where the app's absence is named.
require_installed_app()


class Message(models.Model):
    """One message sent (or refused, or suppressed) through Postmark, and its lifecycle."""

    # The send statuses of postmark.results.Status, then the lifecycle webhooks report. (An
    # enum with members cannot be subclassed, so this one is built from that one's members.)
    _SETTLEMENTS = [("found", "found in Postmark"), ("resent", "resent"), ("failed", "failed")]
    Status = models.TextChoices(  # type: ignore[misc,call-overload]
        "Status",
        [(status.name, (status.value, status.label)) for status in SendStatus]
        + [
            ("DELIVERED", ("delivered", "Delivered")),
            ("OPENED", ("opened", "Opened")),
            ("CLICKED", ("clicked", "Clicked")),
            ("BOUNCED", ("bounced", "Bounced")),
            ("COMPLAINED", ("complained", "spam complaint")),
        ],
    )

    message_id = models.UUIDField(
        "Postmark MessageID", null=True, blank=True, unique=True, editable=False
    )
    status = models.CharField(max_length=16, choices=Status.choices)
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
    text_body = models.TextField("text body", blank=True)
    html_body = models.TextField("HTML body", blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    opened_at = models.DateTimeField("first opened at", null=True, blank=True)
    clicked_at = models.DateTimeField("first clicked at", null=True, blank=True)
    bounced_at = models.DateTimeField(null=True, blank=True)
    complained_at = models.DateTimeField("spam complaint at", null=True, blank=True)
    #: ``postmark.message.server_label`` of the message's ``server_token`` ("" for the server of
    #: POSTMARK_API_KEY): which server sent it, never the token itself.
    server = models.CharField("Postmark server", max_length=64, blank=True)
    #: The Bulk API request that carried it (``manage.py postmark_bulk_status ID``).
    bulk_request_id = models.CharField("bulk request ID", max_length=64, blank=True)
    #: Generated, sent in its Metadata (POSTMARK_LINK_FIELD): Postmark's search finds it by this.
    link_id = models.UUIDField("link ID", null=True, blank=True, unique=True, editable=False)
    # Settling an unknown outcome (postmark.operations.settle): the request kept (ASCII JSON,
    # emptied once settled), when the call was made, when settling sent it again (committed
    # before the request goes), a settler's claim, and how it ended (``_SETTLEMENTS``).
    payload = models.TextField("request kept to resend", blank=True, editable=False)
    unknown_since = models.DateTimeField(null=True, blank=True, editable=False)
    resent_at = models.DateTimeField(null=True, blank=True, editable=False)
    settling_since = models.DateTimeField(null=True, blank=True, editable=False)
    settlement = models.CharField(max_length=16, blank=True, choices=_SETTLEMENTS, editable=False)

    class Meta:
        ordering = ["-created_at", "-pk"]
        # Only indexes that serve a lookup or an ordering (each is written on every webhook);
        # Meta.indexes, not db_index=True, which on PostgreSQL adds a LIKE index to text columns.
        indexes = [
            models.Index(fields=["status"], name="postmark_message_status"),
            # The overview page filtered by stream: a range of created_at within one stream.
            models.Index(fields=["message_stream", "created_at"], name="postmark_message_stream"),
            # postmark_bulk_status settles a request's rows; most rows belong to none.
            models.Index(
                fields=["bulk_request_id"],
                name="postmark_message_bulk",
                condition=~models.Q(bulk_request_id=""),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.subject or '(no subject)'} to {self.to or self.cc or self.bcc}"


# --- Webhooks (written by postmark.webhooks and the webhook receivers) ----------------------------


def _message_link(related_name: str) -> models.ForeignKey[Message | None]:
    # Joined on Postmark's MessageID without a database constraint: filled straight from the
    # payload (no lookup per webhook), and a bounce for a message never logged here is still
    # stored. ``row.message`` raises Message.DoesNotExist when no such Message was logged.
    return models.ForeignKey(
        Message,
        to_field="message_id",
        db_constraint=False,
        on_delete=models.DO_NOTHING,
        null=True,
        blank=True,
        related_name=related_name,
        verbose_name="Postmark MessageID",
    )


class WebhookEvent(models.Model):
    """One webhook request as Postmark sent it, kept before anything else is done with it."""

    class Status(models.TextChoices):
        PROCESSED = "processed"
        #: Stored and acknowledged, but of a RecordType this version does not know.
        IGNORED = "ignored", "ignored (unknown record type)"
        #: A receiver raised: the view answered 500, Postmark retries; replay it once fixed.
        FAILED = "failed"
        #: Valid JSON that is not a usable event (a required field missing): answered 400.
        REJECTED = "rejected"

    #: SHA-256 of the raw body: Postmark repeats the same body when it retries.
    body_sha256 = models.CharField("body SHA-256", max_length=64, editable=False)
    #: One row per event, by webhook or recovered from the Messages API (events.identity).
    event_key = models.CharField(max_length=64, null=True, blank=True, unique=True, editable=False)
    record_type = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices)
    body = models.TextField()
    #: The request headers, without Authorization and Cookie.
    headers = models.JSONField(default=dict, blank=True)
    remote_addr = models.GenericIPAddressField("remote address", null=True, blank=True)
    received_at = models.DateTimeField(db_index=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    #: How many times the event was processed (the first delivery, retries, replays).
    attempts = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    traceback = models.TextField(blank=True)
    message = _message_link("webhook_events")

    class Meta:
        ordering = ["-received_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["body_sha256"], name="postmark_webhookevent_unique")
        ]
        # Only the events that need attention (to replay) are indexed by status.
        indexes = [
            models.Index(
                fields=["status"],
                name="postmark_webhookevent_retry",
                condition=models.Q(status__in=["failed", "rejected"]),
            )
        ]

    def __str__(self) -> str:
        return f"{self.record_type or 'webhook'} received {self.received_at:%Y-%m-%d %H:%M:%S}"


class Bounce(models.Model):
    """A bounce or a spam complaint (Postmark sends both in the same shape), one row per ID."""

    postmark_id = models.BigIntegerField("Postmark bounce ID", unique=True)
    #: "Bounce" or "SpamComplaint".
    record_type = models.CharField(max_length=32, default="Bounce")
    type = models.CharField(max_length=64)
    type_code = models.BigIntegerField(null=True, blank=True)
    name = models.CharField(max_length=200, blank=True)
    message = _message_link("bounces")
    server_id = models.BigIntegerField("Postmark server ID", null=True, blank=True)
    message_stream = models.CharField(max_length=100, blank=True)
    email = models.CharField(max_length=254, blank=True)
    from_email = models.CharField(max_length=500, blank=True)
    subject = models.TextField(blank=True)
    tag = models.CharField(max_length=1000, blank=True)
    description = models.TextField(blank=True)
    details = models.TextField(blank=True)
    bounced_at = models.DateTimeField(null=True, blank=True, db_index=True)
    #: Postmark deactivated the address (it will not send to it again until reactivated).
    inactive = models.BooleanField(default=False)
    can_activate = models.BooleanField(default=False)
    dump_available = models.BooleanField(default=False)
    content = models.TextField(blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-bounced_at", "-pk"]
        indexes = [models.Index(fields=["email"], name="postmark_bounce_email")]
        permissions = [("reactivate_bounce", "Can reactivate bounced addresses in Postmark")]

    def __str__(self) -> str:
        return f"{self.type} for {self.email or '(no address)'}"


class SuppressionQuerySet(models.QuerySet["Suppression"]):
    def active(self) -> SuppressionQuerySet:
        """The suppressions in force: suppressed, and not lifted since."""
        return self.filter(suppressed_at__isnull=False).filter(
            models.Q(lifted_at__isnull=True) | models.Q(lifted_at__lt=models.F("suppressed_at"))
        )


class Suppression(models.Model):
    """An address on a stream, as Postmark's suppression list has it: ``pre_send`` drops the
    addresses of ``Suppression.objects.active()`` from messages.

    A lift keeps the row (with ``lifted_at``) rather than deleting it, and each kind of event
    only overwrites an older one of its kind: webhooks can arrive out of order (Postmark retries
    a failed one later), and an old suppression arriving after a newer lift must not bring the
    suppression back.
    """

    class Reason(models.TextChoices):
        HARD_BOUNCE = "HardBounce", "hard bounce"
        SPAM_COMPLAINT = "SpamComplaint", "spam complaint"
        MANUAL = "ManualSuppression", "manual suppression"

    class Origin(models.TextChoices):
        RECIPIENT = "Recipient"
        CUSTOMER = "Customer"
        ADMIN = "Admin"

    #: Stored lowercased; Postmark compares addresses case-insensitively.
    email = models.CharField(max_length=254)
    message_stream = models.CharField(max_length=100, default=DEFAULT_STREAM)
    #: Of the latest suppression (blank if the address was only ever lifted here).
    reason = models.CharField(max_length=32, choices=Reason.choices, blank=True)
    origin = models.CharField(max_length=32, choices=Origin.choices, blank=True)
    #: When Postmark last suppressed the address (from the event), not when the row was written.
    suppressed_at = models.DateTimeField(null=True, blank=True)
    #: When Postmark last lifted it; the suppression is in force only if it is newer than this.
    lifted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = SuppressionQuerySet.as_manager()

    class Meta:
        ordering = ["-suppressed_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["email", "message_stream"], name="postmark_suppression_unique"
            )
        ]
        permissions = [
            ("lift_suppression", "Can lift suppressions in Postmark"),
            ("suppress_address", "Can add manual suppressions in Postmark"),
        ]

    def __str__(self) -> str:
        return f"{self.email} on {self.message_stream}"

    @property
    def active(self) -> bool:
        return self.suppressed_at is not None and (
            self.lifted_at is None or self.lifted_at < self.suppressed_at
        )


class QueuedBatch(models.Model):
    """One API call's worth of messages handed to a task worker by ``QueuedPostmarkBackend``.

    The row is the durable truth about the batch, not the task queue: it holds the payloads, and
    its state is committed before each step that cannot be undone, so that a worker killed at any
    point leaves a row that ``manage.py postmark_recover`` can settle (see README, Queued sending).
    """

    class State(models.TextChoices):
        PENDING = "pending", "pending (not sent yet)"
        SENDING = "sending", "sending (a worker claimed it)"
        SENT = "sent", "sent (Postmark answered; see each message's result)"
        FAILED = "failed", "failed (certainly not sent)"
        UNKNOWN = "unknown", "unknown (Postmark may have accepted it)"

    id = models.UUIDField("ID", primary_key=True, editable=False)
    state = models.CharField(max_length=16, choices=State.choices)
    template = models.BooleanField(default=False)
    #: One entry per message: ``{"envelope": {...}, "payload": {...} | None, "result": {...}}``.
    messages = models.JSONField(default=list)
    attempts = models.PositiveIntegerField("send attempts", default=0)
    task_id = models.CharField("last task ID", max_length=255, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    enqueued_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["state"], name="postmark_queuedbatch_state")]
        verbose_name_plural = "queued batches"

    def __str__(self) -> str:
        return f"{len(self.messages)} message(s), {self.state}"


# --- Operations (written by postmark.operations) -------------------------------------------------


class DataRemoval(models.Model):
    """One request to Postmark to remove an address's data (``manage.py postmark_forget``).

    The address itself is not kept (that would defeat forgetting it): only a keyed hash of it
    (``postmark.operations.forget.address_hash``: HMAC-SHA256 with a key derived from
    SECRET_KEY), so that "was this address forgotten?" can still be answered, by this site only,
    and ``postmark_sync`` does not bring it back.
    """

    class Status(models.TextChoices):
        PENDING = "Pending"
        DONE = "Done"
        #: Not sent to Postmark (no account token, or ``--local-only``): local rows only.
        LOCAL_ONLY = "LocalOnly", "local only (Postmark not asked)"

    postmark_id = models.BigIntegerField("Postmark data removal ID", null=True, blank=True)
    email_sha256 = models.CharField("SHA-256 of the address", max_length=64, db_index=True)
    status = models.CharField(max_length=16, choices=Status.choices)
    #: What was erased locally: {"messages": 3, "bounces": 1, ...}.
    erased = models.JSONField(default=dict, blank=True)
    requested_at = models.DateTimeField(auto_now_add=True)
    checked_at = models.DateTimeField("status checked at", null=True, blank=True)

    class Meta:
        ordering = ["-requested_at", "-pk"]
        verbose_name = "data removal"

    def __str__(self) -> str:
        return f"data removal {self.postmark_id or '(local only)'}: {self.status}"


class Overview(Message):
    """Not a table: the admin's overview page (per-day counts, rates, top bounces) is listed
    under this name, and ``postmark.view_overview`` is the permission to see it."""

    class Meta:
        proxy = True
        verbose_name = "overview"
        verbose_name_plural = "overview"
        default_permissions = ("view",)


# --- Inbound mail (postmark.inbound) -------------------------------------------------------------
# Defined with the rest of inbound mail, and imported here so that Django and users find it as
# postmark.models.InboundMessage. Last: importing it runs postmark.inbound, whose modules need
# the models above.
from .inbound.record import InboundMessage as InboundMessage  # noqa: E402
