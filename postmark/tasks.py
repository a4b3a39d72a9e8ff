"""The task that ``QueuedPostmarkBackend`` enqueues, and the recovery of abandoned batches.

A batch's ``postmark.models.QueuedBatch`` row, not the task queue, is the record of what happened
to it. Each irreversible step is preceded by a committed state change:

    pending ──claim (committed)──> sending ──request + post_send + results (one commit)──> sent
                                      │                                                   failed
                                      │ the worker died: the row stays "sending"          unknown
                                      └──> postmark_recover marks it "unknown" (never re-sent)

So a task delivered twice sends once (only one claim succeeds), and a worker killed at any point
leaves either a "pending" row (nothing was sent: recovery enqueues it again) or a "sending" row
(Postmark may have the messages: recovery marks them unknown for a person to decide).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from . import signals
from .conf import settings
from .exceptions import NetworkError, PostmarkError
from .message import UNKNOWN, PostmarkEmailMultiAlternatives, PostmarkResult
from .timestamps import parse_timestamp

try:  # Django 6 ships the Tasks framework; the django-tasks package backports it to 5.2.
    from django.tasks import task, task_backends
    from django.tasks.base import TaskResultStatus
    from django.tasks.exceptions import TaskResultDoesNotExist
except ImportError:  # pragma: no cover - depends on the Django version
    try:
        from django_tasks import (  # type: ignore[no-redef,assignment]
            TaskResultStatus,
            task,
            task_backends,
        )
        from django_tasks.exceptions import (  # type: ignore[no-redef,assignment]
            TaskResultDoesNotExist,
        )
    except ImportError as exc:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(
            "Queued sending needs Django's Tasks framework: use Django 6, or "
            "`pip install django-tasks` on Django 5.2."
        ) from exc

logger = logging.getLogger("postmark.tasks")

# Statuses after which Postmark certainly did not take the batch, so sending it again is safe.
SAFE_TO_RETRY_STATUSES = frozenset({429, 503})

UNKNOWN_AFTER_CRASH = (
    "The worker stopped while this message was being sent; Postmark may have accepted it. "
    "Check Postmark's activity for it before sending it again."
)


class RetryLater(Exception):
    """The whole batch failed in a way that proves Postmark did not take it; try again later.

    Deliberately not a PostmarkError, so that it passes through ``PostmarkBackend.post_batch``
    before any result is set or ``post_send`` is sent: the batch is not finished yet.
    """

    def __init__(self, error: PostmarkError) -> None:
        super().__init__(str(error))
        self.error = error


def is_safe_to_retry(error: PostmarkError) -> bool:
    if isinstance(error, NetworkError):
        return not error.may_have_been_sent
    return error.http_status in SAFE_TO_RETRY_STATUSES


# Defaults from settings: a task backend validates the queue name as soon as the task is made.
@task(backend=settings.POSTMARK_QUEUE_TASK_BACKEND, queue_name=settings.POSTMARK_QUEUE_NAME)
def send_queued_batch(batch_id: str) -> dict[str, str]:
    """Send one ``QueuedBatch``; safe to run any number of times for the same batch."""
    return {"batch": batch_id, "state": deliver(batch_id)}


def enqueue(batch_id: str, *, run_after: datetime | None = None) -> str:
    """Enqueue the task for a batch on the configured task backend; return the task id."""
    from .models import QueuedBatch

    queued_task = send_queued_batch.using(
        backend=settings.POSTMARK_QUEUE_TASK_BACKEND, queue_name=settings.POSTMARK_QUEUE_NAME
    )
    if run_after is not None and queued_task.get_backend().supports_defer:
        queued_task = queued_task.using(run_after=run_after)
    result = queued_task.enqueue(batch_id)
    QueuedBatch.objects.filter(pk=batch_id).update(task_id=result.id, enqueued_at=timezone.now())
    return str(result.id)


def deliver(batch_id: str) -> str:
    """Claim the batch, send it, record the outcome; return the state the batch is left in."""
    from .backends import Batch, QueuedPostmarkBackend
    from .models import QueuedBatch

    claimed_at = timezone.now()
    claimed = QueuedBatch.objects.filter(pk=batch_id, state=QueuedBatch.State.PENDING).update(
        state=QueuedBatch.State.SENDING, claimed_at=claimed_at, attempts=F("attempts") + 1
    )
    if not claimed:
        # Redelivered, or settled by postmark_recover: whoever claimed it owns it.
        state = QueuedBatch.objects.filter(pk=batch_id).values_list("state", flat=True).first()
        logger.info("Batch %s not sent by this task: it is %s.", batch_id, state or "gone")
        return str(state or "missing")

    retry_error: PostmarkError | None = None
    # The claim above is committed; from here on a crash leaves "sending" (never a re-send).
    # The request, post_send and the final state share one transaction, holding the row's lock:
    # either all of it is committed, or the row stays "sending" and its lock dies with the
    # worker's connection, which is how postmark_recover tells a dead worker from a slow one.
    with transaction.atomic():
        row = QueuedBatch.objects.select_for_update().get(pk=batch_id)
        if row.state != QueuedBatch.State.SENDING or row.claimed_at != claimed_at:
            return str(row.state)
        messages = [rebuild_message(entry) for entry in row.messages]
        payloads = [entry["payload"] for entry in row.messages]
        backend = QueuedPostmarkBackend(fail_silently=True)
        backend.retry_allowed = row.attempts < settings.POSTMARK_QUEUE_MAX_ATTEMPTS
        backend.open()
        try:
            error = backend.post_batch(Batch(row.template, messages, payloads))
        except RetryLater as retry:
            retry_error = retry.error
            row.state = QueuedBatch.State.PENDING
            row.error = f"Attempt {row.attempts} failed, will retry: {retry.error}"
            row.enqueued_at = timezone.now()  # recovery leaves it to the coming retry task
            row.save(update_fields=["state", "error", "enqueued_at"])
        else:
            results: list[PostmarkResult] = [m.postmark for m in messages]  # type: ignore[attr-defined]
            for entry, result in zip(row.messages, results, strict=True):
                entry["result"] = result_to_json(result)
            row.state = _state_of(results, error)
            row.error = str(error) if error is not None else ""
            row.finished_at = timezone.now()
            row.save(update_fields=["messages", "state", "error", "finished_at"])
        finally:
            backend.close()

    if retry_error is not None:
        delay = settings.POSTMARK_QUEUE_RETRY_DELAY * 2 ** (row.attempts - 1)
        # If this process dies before the enqueue, the row is "pending" without a task:
        # postmark_recover enqueues it again. Nothing was sent, so nothing can be doubled.
        enqueue(batch_id, run_after=timezone.now() + timedelta(seconds=delay))
    return str(row.state)


def _state_of(results: Sequence[PostmarkResult], error: PostmarkError | None) -> str:
    from .models import QueuedBatch

    if any(result.status == UNKNOWN for result in results):
        return QueuedBatch.State.UNKNOWN
    return QueuedBatch.State.FAILED if error is not None else QueuedBatch.State.SENT


def recover(stale_after: float | None = None) -> dict[str, int]:
    """Settle batches whose worker is gone; return how many were marked unknown and re-enqueued.

    A batch still "sending" after ``stale_after`` seconds (POSTMARK_QUEUE_STALE_AFTER) whose row
    no live worker holds is marked unknown, with a ``post_send`` of unknown results, and never
    sent again. A batch still "pending" that long whose task is not waiting in the queue any more
    is enqueued again (a duplicate task is harmless: only one claim succeeds).
    """
    from .models import QueuedBatch

    if stale_after is None:
        stale_after = settings.POSTMARK_QUEUE_STALE_AFTER
    cutoff = timezone.now() - timedelta(seconds=stale_after)
    counts = {"unknown": 0, "enqueued": 0}
    sending = QueuedBatch.objects.filter(state=QueuedBatch.State.SENDING, claimed_at__lte=cutoff)
    for batch_id in list(sending.values_list("pk", flat=True)):
        counts["unknown"] += _mark_unknown(str(batch_id), cutoff)
    pending = QueuedBatch.objects.filter(state=QueuedBatch.State.PENDING, created_at__lte=cutoff)
    pending = pending.filter(Q(enqueued_at__isnull=True) | Q(enqueued_at__lte=cutoff))
    for batch_id, task_id in list(pending.values_list("pk", "task_id")):
        if not _still_queued(task_id):
            enqueue(str(batch_id))
            counts["enqueued"] += 1
    return counts


def _mark_unknown(batch_id: str, cutoff: datetime) -> int:
    from .backends import QueuedPostmarkBackend
    from .models import QueuedBatch

    with transaction.atomic():
        # skip_locked: a live worker holds its row's lock for the whole request. (Databases
        # without row locks, such as SQLite, rely on the stale_after delay alone.)
        row = (
            QueuedBatch.objects.select_for_update(skip_locked=True)
            .filter(pk=batch_id, state=QueuedBatch.State.SENDING, claimed_at__lte=cutoff)
            .first()
        )
        if row is None:
            return 0
        messages = [rebuild_message(entry) for entry in row.messages]
        for message, entry in zip(messages, row.messages, strict=True):
            if entry["payload"] is not None:
                message.postmark = PostmarkResult(  # type: ignore[attr-defined]
                    UNKNOWN, recipients=list(message.recipients()), message=UNKNOWN_AFTER_CRASH
                )
            entry["result"] = result_to_json(message.postmark)  # type: ignore[attr-defined]
        signals.post_send.send(
            sender=QueuedPostmarkBackend,
            messages=messages,
            results=[message.postmark for message in messages],  # type: ignore[attr-defined]
            exception=None,
            backend=QueuedPostmarkBackend(fail_silently=True),
        )
        row.state = QueuedBatch.State.UNKNOWN
        row.error = UNKNOWN_AFTER_CRASH
        row.finished_at = timezone.now()
        row.save(update_fields=["messages", "state", "error", "finished_at"])
    logger.warning("Batch %s: its worker died while sending; marked unknown.", batch_id)
    return 1


def _still_queued(task_id: str) -> bool:
    """Whether the batch's last task is still waiting to run (so enqueuing again is pointless)."""
    if not task_id:
        return False
    backend = task_backends[settings.POSTMARK_QUEUE_TASK_BACKEND]
    if not backend.supports_get_result:
        return False
    try:
        status = backend.get_result(task_id).status
    except TaskResultDoesNotExist:
        return False
    except Exception:
        # Not knowing is no reason to leave the batch unsent: a duplicate task sends nothing.
        logger.warning(
            "Could not look up task %s; enqueuing its batch again.", task_id, exc_info=True
        )
        return False
    return bool(status == TaskResultStatus.READY)


# --- What a batch row stores about each message -----------------------------------------------


def message_entry(
    message: EmailMessage, payload: dict[str, Any] | None, result: PostmarkResult | None
) -> dict[str, Any]:
    """The JSON a batch row keeps for one message: enough to rebuild it for ``post_send``.

    The bodies are kept once: in the payload when there is one, else in the envelope.
    """
    envelope: dict[str, Any] = {
        "from_email": str(message.from_email or ""),
        "to": [str(address) for address in message.to],
        "cc": [str(address) for address in message.cc],
        "bcc": [str(address) for address in message.bcc],
        "reply_to": [str(address) for address in message.reply_to],
        "subject": str(message.subject or ""),
        "options": {
            name: _json_option(getattr(message, name, None))
            for name in ("tag", "metadata", "message_stream", "template_id", "template_alias")
            if getattr(message, name, None) is not None
        },
    }
    suppressed = getattr(message, "suppressed_recipients", None)
    if suppressed:
        envelope["suppressed_recipients"] = [str(address) for address in suppressed]
    if payload is None:
        envelope["body"] = str(message.body or "")
        envelope["content_subtype"] = message.content_subtype
        envelope["alternatives"] = [
            [_text(alternative[0]), alternative[1]]
            for alternative in getattr(message, "alternatives", None) or []
        ]
    return {
        "envelope": envelope,
        "payload": payload,
        "result": result_to_json(result) if result is not None else None,
    }


def rebuild_message(entry: Mapping[str, Any]) -> EmailMessage:
    """A light copy of the caller's message (addresses, subject, bodies, Postmark options)."""
    envelope = entry["envelope"]
    body, subtype, alternatives = _bodies(envelope, entry["payload"])
    message = PostmarkEmailMultiAlternatives(
        subject=envelope["subject"],
        body=body,
        from_email=envelope["from_email"],
        to=envelope["to"],
        cc=envelope["cc"],
        bcc=envelope["bcc"],
        reply_to=envelope["reply_to"],
        **envelope["options"],
    )
    message.content_subtype = subtype
    if envelope.get("suppressed_recipients"):
        message.suppressed_recipients = envelope["suppressed_recipients"]  # type: ignore[attr-defined]
    for content, mimetype in alternatives:
        message.attach_alternative(content, mimetype)
    if entry.get("result") is not None:
        message.postmark = result_from_json(entry["result"])  # type: ignore[attr-defined]
    return message


def _bodies(
    envelope: Mapping[str, Any], payload: Mapping[str, Any] | None
) -> tuple[str, str, list[list[str]]]:
    """(body, content subtype, alternatives) of the original message."""
    if payload is None:
        return envelope["body"], envelope["content_subtype"], envelope["alternatives"]
    text, html = payload.get("TextBody"), payload.get("HtmlBody")
    if text is not None:
        return text, "plain", [[html, "text/html"]] if html is not None else []
    return (html, "html", []) if html is not None else ("", "plain", [])


def result_to_json(result: PostmarkResult) -> dict[str, Any]:
    return {
        "status": result.status,
        "message_id": result.message_id,
        "submitted_at": result.submitted_at.isoformat() if result.submitted_at else None,
        "recipients": list(result.recipients),
        "error_code": result.error_code,
        "message": result.message,
        "inactive_recipients": list(result.inactive_recipients),
    }


def result_from_json(data: Mapping[str, Any]) -> PostmarkResult:
    return PostmarkResult(
        data["status"],
        message_id=data.get("message_id"),
        submitted_at=parse_timestamp(data.get("submitted_at")),
        recipients=list(data.get("recipients") or []),
        error_code=data.get("error_code"),
        message=data.get("message") or "",
        inactive_recipients=list(data.get("inactive_recipients") or []),
    )


def _text(content: Any) -> str:
    return content.decode() if isinstance(content, bytes) else str(content)


def _json_option(value: Any) -> Any:
    # Metadata values go to Postmark as strings anyway; keep the row JSON whatever they were.
    if isinstance(value, Mapping):
        return {str(key): "" if item is None else str(item) for key, item in value.items()}
    return value if isinstance(value, int | str) else str(value)
