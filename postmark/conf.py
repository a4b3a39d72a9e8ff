"""Every setting of django-postmark, its default and what it means.

Each attribute ``NAME`` below is read from the Django setting ``POSTMARK_NAME``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from appconf import AppConf
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver

from .api.spec import MAX_BATCH
from .installation.package import require_installed_app
from .installation.setting_rules import (
    DEFAULT_LINK_FIELD,
    Secret,
    byte_count,
    checked_api_url,
    checked_link_field,
    conceal,
    exposed,
    seconds,
)

__all__ = [
    "DEFAULT_LINK_FIELD",
    "SECRET_SETTINGS",
    "PostmarkConf",
    "Secret",
    "checked_api_url",
    "conceal",
    "settings",
]

#: The settings that hold credentials. Their values are kept as ``Secret`` strings, which
#: Django's error reports (the debug page, the mail to ADMINS) show as stars: Django itself hides
#: only names matching API|AUTH|TOKEN|KEY|SECRET|PASS|SIGNATURE, which WEBHOOK_USER and
#: WEBHOOK_CREDENTIALS do not.
SECRET_SETTINGS = (
    "API_KEY",
    "API_USER",
    "API_PASSWORD",
    "WEBHOOK_USER",
    "WEBHOOK_PASSWORD",
    "WEBHOOK_CREDENTIALS",
    "WEBHOOK_SECRETS",
    "ACCOUNT_TOKEN",
    "SERVER_TOKENS",
)


class PostmarkConf(AppConf):
    # --- Sending -------------------------------------------------------------------------------
    #: The Postmark server token. Required to send, unless TEST_MODE is on.
    API_KEY: str | None = None
    #: Where the API lives; point it at ``python manage.py postmark_sandbox`` to try things out.
    API_URL: str = "https://api.postmarkapp.com"
    #: Send with the token ``POSTMARK_API_TEST`` (whatever API_KEY says): Postmark validates,
    #: nothing is delivered.
    TEST_MODE: bool = False
    #: (connect, read) in seconds; a single number sets both. A deadline, not a per-read timeout:
    #: each attempt must connect within ``connect`` seconds and end, the whole answer read,
    #: within ``connect + read`` seconds however slowly it arrives. QUEUE_STALE_AFTER relies on
    #: that bound: (MAX_RETRIES + 1) * (connect + read), plus the backoffs, per batch.
    TIMEOUT: float | tuple[float, float] = (5.0, 30.0)
    #: How many times a request is retried when Postmark certainly did not process it
    #: (connection refused, 429, 503). Never after a 500, a read timeout or a dropped connection.
    MAX_RETRIES: int = 3
    #: Seconds before the first retry; each further retry waits twice as long.
    RETRY_BACKOFF: float = 0.5
    #: Messages per batch API call; Postmark accepts at most 500.
    BATCH_SIZE: int = MAX_BATCH
    #: API calls one ``send_messages()`` makes at once when it has more than one batch, each on
    #: a keep-alive connection of its own (one thread each); 1 posts them one after another.
    #: Postmark publishes no limit on concurrent calls (it answers 429 when pushed too hard, and
    #: 429 is retried). 10 is requests' own pool size per host, the most connections a shared
    #: requests session opens to Postmark; it lets 20 batches of 500 wait in two rounds.
    MAX_CONCURRENT_CALLS: int = 10

    # Defaults for Postmark's per-message options; a message's own attribute wins.
    #: Tag for messages that set none.
    TAG: str | None = None
    #: Metadata merged under each message's own metadata.
    METADATA: dict[str, str] = {}
    #: Open tracking: True, False, or None to use the server's setting.
    TRACK_OPENS: bool | None = None
    #: Link tracking: "None", "HtmlAndText", "HtmlOnly", "TextOnly", or None for the server's.
    TRACK_LINKS: str | None = None
    #: Message stream for messages that set none; None uses the server's default ("outbound").
    MESSAGE_STREAM: str | None = None
    #: Streams whose messages go through the Bulk API (``POST /email/bulk``: one call for all of a
    #: message's recipients), e.g. ["broadcast"]; ``message.bulk`` overrides it per message.
    BULK_STREAMS: list[str] = []

    # --- Default receivers (each does its work only while its setting is on) -------------------
    #: Log every sent message as a ``postmark.models.Message`` row.
    STORE_MESSAGES: bool = True
    #: Also keep text and HTML bodies on those rows.
    STORE_BODIES: bool = False

    # --- Settling uncertain sends (docs/reliability.rst, manage.py postmark_settle) -------------
    #: The Metadata field that carries each message's generated id (``Message.link_id``), by
    #: which a message whose answer never came is searched for: up to 20 letters, digits, "-"
    #: or "_", a name your own metadata does not use.
    LINK_FIELD: str = DEFAULT_LINK_FIELD
    #: Seconds after a send whose outcome is unknown before its message is first searched for.
    SETTLE_AFTER: float = 60.0
    #: Seconds after that send from which "not found" is believed: Postmark does not say how
    #: soon a sent message shows in its search, so this waits far longer than it usually takes.
    SETTLE_NOT_FOUND_AFTER: float = 3600.0
    #: What a message not found by then becomes: "fail" (marked failed: it was never sent) or
    #: "resend" (sent once more, with the same id, itself settled the same way if need be).
    SETTLE_NOT_FOUND: str = "fail"

    # --- Queued sending (postmark.backends.QueuedPostmarkBackend) --------------------------------
    #: Alias in Django's TASKS setting of the task backend that queues the batches.
    QUEUE_TASK_BACKEND: str = "default"
    #: Queue name the batches are enqueued on (it must be one of that task backend's QUEUES).
    QUEUE_NAME: str = "default"
    #: Attempts per batch when Postmark certainly did not take it (connection refused, 429, 503),
    #: each after the client's own quick retries; then the batch fails.
    QUEUE_MAX_ATTEMPTS: int = 5
    #: Seconds before a batch's second attempt; each further attempt waits twice as long.
    QUEUE_RETRY_DELAY: float = 30.0
    #: Seconds after which ``manage.py postmark_recover`` treats a batch as abandoned: still
    #: "sending" (its worker died; marked unknown) or still "pending" (re-enqueued). Keep it well
    #: above the longest request (TIMEOUT and retries), or a live worker's batch may be settled.
    QUEUE_STALE_AFTER: float = 600.0
    #: The other servers' tokens (``message.server_token``) the queued backend may send
    #: through. A batch row keeps only the server's label (``postmark.message.server_label``),
    #: never the token: the worker finds the token here by that label.
    SERVER_TOKENS: list[str] = []

    # --- Webhooks ----------------------------------------------------------------------------
    #: Basic-auth credentials the webhook views require (put them in the webhook URL:
    #: ``https://user:pass@host/postmark/bounce/``). Not API credentials, whatever the names
    #: (the original app's) suggest: the API takes only API_KEY.
    API_USER: str | None = None
    API_PASSWORD: str | None = None
    #: Clearer names for API_USER and API_PASSWORD; either spelling works, not both at once.
    WEBHOOK_USER: str | None = None
    WEBHOOK_PASSWORD: str | None = None
    #: More accepted (user, password) pairs, to rotate credentials without refusing webhooks:
    #: add the new pair here, change the URL in Postmark, then retire the old pair.
    WEBHOOK_CREDENTIALS: list[tuple[str, str]] = []
    #: Secrets the outbound events must carry in WEBHOOK_HEADER (compared in constant time): the
    #: first is what ``postmark_webhooks`` gives Postmark, the others are accepted while rotating.
    #: Postmark cannot set headers on inbound mail's hook, so the inbound view does not ask.
    WEBHOOK_SECRETS: list[str] = []
    WEBHOOK_HEADER: str = "X-Postmark-Webhook-Secret"
    #: Addresses or networks webhooks must come from (403 otherwise); empty accepts any, e.g.
    #: ``list(postmark.api.spec.WEBHOOK_SOURCE_ADDRESSES)``.
    WEBHOOK_ALLOWED_IPS: list[str] = []
    #: Networks of the site's own proxies: X-Forwarded-For is believed only from them.
    WEBHOOK_TRUSTED_PROXIES: list[str] = []
    #: Largest webhook body accepted, in bytes (413 above it). Postmark takes inbound mail with
    #: up to 35 MB of attachments: base64 in the JSON makes that about 47 MB, and RawEmail (when
    #: the inbound stream includes it) carries it once more, about 94 MB in all. It caps
    #: outbound events too (below WEBHOOK_OUTBOUND_MAX_BYTES).
    WEBHOOK_MAX_BYTES: int = 100 * 1024 * 1024
    #: Largest outbound event (bounce, delivery, open, click...) accepted, in bytes (413 above
    #: it). Every outbound event is a few KB but one: a Bounce or SpamComplaint sent with
    #: IncludeContent carries the bounce report as Postmark received it, and a report may
    #: return the whole original message (many servers cut it to 50-100 KB; some do not).
    #: Postmark sends messages of up to 10 MB, so 16 MiB holds any such report and its JSON
    #: escaping: a smaller limit would refuse that bounce for good once Postmark's retries end.
    WEBHOOK_OUTBOUND_MAX_BYTES: int = 16 * 1024 * 1024
    #: Store Bounce rows from bounce and spam complaint webhooks, and move ``Message`` rows
    #: through their lifecycle (delivered, opened, clicked, bounced, complained).
    STORE_EVENTS: bool = True
    #: Record ``Suppression`` rows from inactive bounces, spam complaints and subscription changes.
    RECORD_SUPPRESSIONS: bool = True
    #: Drop suppressed recipients from messages before sending (one query per API call); a
    #: message left with no recipient gets a "suppressed" result and is not sent.
    SKIP_SUPPRESSED: bool = True

    # --- Inbound mail (postmark.inbound; docs: Inbound mail) -----------------------------------
    #: Keep each inbound message as a ``postmark.models.InboundMessage``, routed and processed.
    INBOUND_STORE: bool = True
    #: The routes, first match wins: dicts naming a ``mailbox`` and what they match.
    INBOUND_ROUTES: list[dict[str, Any]] = []
    #: "task": processed by a task on QUEUE_TASK_BACKEND (Django's default TASKS runs it at
    #: once); "sync": in the process that received it, once the webhook's row is committed.
    INBOUND_PROCESSING: str = "task"
    #: Runs of a message whose mailbox raises, before it is left failed; the first retry
    #: waits INBOUND_RETRY_DELAY seconds, each further one twice as long.
    INBOUND_MAX_ATTEMPTS: int = 5
    INBOUND_RETRY_DELAY: float = 60.0
    #: Seconds after which ``postmark_inbound`` takes back mail still "routed" (its worker died).
    INBOUND_STALE_AFTER: float = 600.0
    #: ``postmark_purge`` deletes finished inbound mail (processed, bounced, unrouted), content
    #: first, this many days after it finished; failed mail is kept until handled.
    INBOUND_RETENTION_DAYS: int = 30

    # --- Reply addresses and notices (postmark.inbound.replies, .notices; checked when used) --
    #: The domain whose mail Postmark receives for this site (your own, pointed at Postmark by
    #: inbound domain forwarding), e.g. "reply.example.com": where reply addresses point, whose
    #: recipients a ``reply_for`` route reads, and where notices never go.
    INBOUND_DOMAIN: str | None = None
    #: How long a reply address resolves: seconds or a timedelta.
    REPLY_MAX_AGE: timedelta | int = timedelta(days=30)

    # --- Operations (postmark_sync, postmark_purge, postmark_forget, postmark_webhooks, admin) -
    #: Postmark account token (not a server token): only ``postmark_forget`` uses it, to ask
    #: Postmark to remove an address's data (``POST /data-removals``).
    ACCOUNT_TOKEN: str | None = None
    #: The site's public webhook URL without credentials, e.g.
    #: ``https://example.com/postmark/bounce/``: what ``postmark_webhooks`` sets and checks.
    WEBHOOK_URL: str | None = None
    #: ``postmark_purge`` deletes webhook events and message rows older than this many days.
    RETENTION_DAYS: int = 90
    #: Rows deleted per statement by ``postmark_purge`` (each batch is its own short transaction).
    PURGE_BATCH_SIZE: int = 1000
    #: The overview page warns when the share of bounced (or spam-complained) messages over its
    #: 30 days reaches these (industry guidance: bounces under 10%, complaints under 0.1%).
    BOUNCE_RATE_WARNING: float = 0.10
    COMPLAINT_RATE_WARNING: float = 0.001

    class Meta:
        prefix = "postmark"

    def configure(self) -> dict[str, Any]:
        # The views read API_USER/API_PASSWORD only: each alias is resolved into its name here.
        data: dict[str, Any] = self.configured_data
        for alias, name in (("WEBHOOK_USER", "API_USER"), ("WEBHOOK_PASSWORD", "API_PASSWORD")):
            if data[alias] is None:
                continue
            if data[name] is not None and data[name] != data[alias]:
                raise ImproperlyConfigured(
                    f"POSTMARK_{alias} and POSTMARK_{name} are two names for one setting, and "
                    "they differ: set only one of them."
                )
            data[name] = data[alias]
        for name in SECRET_SETTINGS:
            data[name] = conceal(data[name])
        return data

    def configure_webhook_credentials(self, value: Any) -> list[tuple[str, str]]:
        try:
            pairs = [(user, password) for user, password in value]
        except (TypeError, ValueError):
            pairs = []
        if not all(isinstance(part, str) and part for pair in pairs for part in pair) or (
            value and not pairs
        ):
            raise ImproperlyConfigured(
                "POSTMARK_WEBHOOK_CREDENTIALS must be a list of (user, password) pairs of "
                'non-empty strings, e.g. [("postmark", "new-secret")].'
            )
        return pairs

    def configure_webhook_max_bytes(self, value: Any) -> int:
        return byte_count("POSTMARK_WEBHOOK_MAX_BYTES", value)

    def configure_webhook_outbound_max_bytes(self, value: Any) -> int:
        return byte_count("POSTMARK_WEBHOOK_OUTBOUND_MAX_BYTES", value)

    def configure_max_concurrent_calls(self, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 64:
            raise ImproperlyConfigured(
                "POSTMARK_MAX_CONCURRENT_CALLS must be a whole number from 1 (one call at a "
                "time) to 64."
            )
        return value

    def configure_bulk_streams(self, value: Any) -> list[str]:
        names = list(value) if isinstance(value, list | tuple | set | frozenset) else None
        if names is None or not all(isinstance(name, str) and name for name in names):
            raise ImproperlyConfigured(
                'POSTMARK_BULK_STREAMS must be a list of message stream IDs, e.g. ["broadcast"].'
            )
        return names

    def configure_server_tokens(self, value: Any) -> list[str]:
        tokens = list(value) if isinstance(value, list | tuple) else None
        if tokens is None or not all(isinstance(token, str) and token for token in tokens):
            raise ImproperlyConfigured(
                "POSTMARK_SERVER_TOKENS must be a list of Postmark server tokens (non-empty "
                'strings), e.g. [os.environ["POSTMARK_NEWS_SERVER_TOKEN"]].'
            )
        return tokens

    def configure_link_field(self, value: Any) -> str:
        return checked_link_field(value)

    def configure_settle_not_found(self, value: Any) -> str:
        if value not in ("fail", "resend"):
            raise ImproperlyConfigured('POSTMARK_SETTLE_NOT_FOUND must be "fail" or "resend".')
        return str(value)

    def configure_settle_after(self, value: Any) -> float:
        return seconds("POSTMARK_SETTLE_AFTER", value)

    def configure_settle_not_found_after(self, value: Any) -> float:
        return seconds("POSTMARK_SETTLE_NOT_FOUND_AFTER", value)

    def configure_api_url(self, value: Any) -> str:
        return checked_api_url(value)

    def configure_batch_size(self, value: Any) -> int:
        if not isinstance(value, int) or not 1 <= value <= MAX_BATCH:
            raise ImproperlyConfigured(
                f"POSTMARK_BATCH_SIZE must be a whole number from 1 to {MAX_BATCH}."
            )
        return value


@receiver(setting_changed, dispatch_uid="postmark.conf.conceal_secrets")
def conceal_changed_secret(*, setting: str, **kwargs: Any) -> None:
    """``override_settings`` (and pytest-django's ``settings``) put a secret setting's new value
    in place as given: conceal it there too, so that no test or tool sees it in a report."""
    if not setting.startswith("POSTMARK_") or setting[9:] not in SECRET_SETTINGS:
        return
    value = getattr(settings, setting, None)
    if exposed(value):
        setattr(settings, setting, conceal(value))


# Every part of the app reads its settings from here, the backends first of all: the one place
# to say that the app itself is missing from INSTALLED_APPS.
require_installed_app()
