"""The send path both backends and the queue's worker run: the API calls for the batches
``batches`` built (several at once: ``send_batches``), the results and ``post_send``.

``backend`` below is the Django email backend on whose behalf a batch goes: it is the signals'
``sender`` (its class) and ``backend`` argument, and its ``fail_silently`` decides what a refusal
does.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.core.mail import EmailMessage
from django.core.mail.backends.base import BaseEmailBackend

from .. import signals
from ..client import Client
from ..client.email import batch_json
from ..conf import settings
from ..exceptions import PostmarkError
from ..results import PostmarkResult, Status, results_of
from .recipients import message_results, set_result, settle

logger = logging.getLogger("postmark")

_UNKNOWN = Status.UNKNOWN  # looked up once, not per message
_NO_METADATA: dict[str, str] = {}  # read only: a payload without Metadata

#: Called with the error that failed a whole call, before any result is set; it may raise to
#: take the batch back (the queue's worker does, to try again later).
OnCallError = Callable[[PostmarkError], None]


@dataclass
class Batch:
    """The messages of one API call. A message whose payload is None is not sent: its result
    (suppressed, or refused before sending) is already on it."""

    template: bool
    messages: list[EmailMessage]
    payloads: list[dict[str, Any] | None]
    #: One Bulk API request (``POST /email/bulk``): one message, its recipients in the payload.
    bulk: bool = False
    #: The messages' ``server_token``, or None for the client's own server.
    server_token: str | None = None
    #: The request body, encoded once when the batch was built (``batches``: so that
    #: its size was known before any request); None: the client encodes the payloads.
    body: bytes | None = None


def send_batches(
    backend: BaseEmailBackend,
    client: Client,
    batches: list[Batch],
    fail_silently: bool,
    on_call_error: OnCallError | None = None,
) -> PostmarkError | None:
    """Post the batches, up to POSTMARK_MAX_CONCURRENT_CALLS at once; return the first error
    that failed a whole call, if one did.

    Without fail_silently, once a call has failed no new call starts: the calls in flight
    finish and their results count, and the batches not yet posted get a "not sent" result.
    Only the HTTP calls run in threads (``call_batch``); results and ``post_send`` are handled
    here, in the caller's thread, one batch at a time as its call ends. With one call to make,
    or the setting at 1, no thread is started. An ``on_call_error`` that raises stops the
    handout too, and propagates once the calls in flight are handled.
    """
    width = min(settings.POSTMARK_MAX_CONCURRENT_CALLS, sum(map(_calls_api, batches)))
    errors: list[PostmarkError] = []
    if width <= 1:  # no thread at all
        for position, batch in enumerate(batches):
            error = post_batch(backend, client, batch, on_call_error)
            if error is not None:
                errors.append(error)
                if not fail_silently:
                    mark_unsent(batches[position + 1 :], error)
                    break
        return errors[0] if errors else None

    left = _post_at_once(backend, client, batches, width, fail_silently, on_call_error, errors)
    if left and errors:
        mark_unsent(left, errors[0])
    return errors[0] if errors else None


def _post_at_once(
    backend: BaseEmailBackend,
    client: Client,
    batches: list[Batch],
    width: int,
    fail_silently: bool,
    on_call_error: OnCallError | None,
    errors: list[PostmarkError],
) -> list[Batch]:
    """``send_batches`` with ``width`` calls at once; returns the batches never posted.

    Every batch is queued on the pool at once, but a call starts only if no call has failed
    yet: the thread whose call fails says so before it takes another batch, even while this
    thread is still busy with an earlier result. An exception (from a call, or from handling
    a result here) stops the calls the same way; the calls in flight are still finished and
    handled, then the first exception propagates.
    """
    stop = threading.Event()

    def call_unless_stopped(batch: Batch) -> CallAnswer | None:
        if stop.is_set():
            return None  # never posted
        try:
            answer = call_batch(client, batch)
        except BaseException:
            stop.set()
            raise
        if answer.error is not None and not fail_silently:
            stop.set()
        return answer

    raised: BaseException | None = None
    unsent: set[int] = set()
    with ThreadPoolExecutor(width, thread_name_prefix="postmark-call") as pool:
        try:
            futures: dict[Future[CallAnswer | None], int] = {
                pool.submit(call_unless_stopped, batch): position
                for position, batch in enumerate(batches)
            }
            for future in as_completed(futures):
                position = futures[future]
                try:
                    answer = future.result()
                except BaseException as exc:  # the call's own: re-raised once all are handled
                    raised = raised or exc
                    continue
                if answer is None:
                    unsent.add(position)
                    continue
                try:
                    error = finish_batch(backend, batches[position], answer, on_call_error)
                except Exception as exc:
                    stop.set()
                    raised = raised or exc
                    continue
                if error is not None:
                    errors.append(error)
        finally:
            stop.set()  # an interrupt: the calls not yet started return at once
    if raised is not None:
        raise raised
    return [batch for position, batch in enumerate(batches) if position in unsent]


def _calls_api(batch: Batch) -> bool:
    return any(payload is not None for payload in batch.payloads)


def post_batch(
    backend: BaseEmailBackend,
    client: Client,
    batch: Batch,
    on_call_error: OnCallError | None = None,
) -> PostmarkError | None:
    """Make the API call for one batch, put a result on each message, send ``post_send``.

    Returns the error that failed the whole call, if one did.
    """
    return finish_batch(backend, batch, call_batch(client, batch), on_call_error)


@dataclass
class CallAnswer:
    """What one batch's API call came to: a result per message sent, or the call's error."""

    messages: list[EmailMessage]
    results: list[PostmarkResult] | None = None
    error: PostmarkError | None = None


def call_batch(client: Client, batch: Batch) -> CallAnswer:
    """The API call for one batch and nothing else: no signal, no database, no result set on a
    message, so that it may run in a thread of its own."""
    sending = [(m, p) for m, p in zip(batch.messages, batch.payloads, strict=True) if p]
    messages = [message for message, _ in sending]
    if not sending:
        return CallAnswer(messages, [])
    payloads = [payload for _, payload in sending]
    try:
        with server_client(client, batch.server_token) as server:
            results = call(
                server, batch.template, payloads, messages, bulk=batch.bulk, body=batch.body
            )
    except PostmarkError as exc:
        return CallAnswer(messages, error=exc)
    finally:
        batch.body = None  # posted: the bytes are not needed again (they may be 50 MB)
    return CallAnswer(messages, results)


def finish_batch(
    backend: BaseEmailBackend,
    batch: Batch,
    answer: CallAnswer,
    on_call_error: OnCallError | None = None,
) -> PostmarkError | None:
    """Put the call's results on the messages and send ``post_send`` (in the caller's thread:
    receivers use its database connection and transaction)."""
    error = answer.error
    results = answer.results
    if error is not None:
        if on_call_error is not None:
            on_call_error(error)
        results = [PostmarkResult.from_error(error, message) for message in answer.messages]
    # Each result learns its message's generated id, which only the payload carries (so that a
    # message gains no attribute but its result); an unknown one also keeps its request while
    # post_send's receivers run, for the log to keep for settling. The payloads of the messages
    # sent are those not None, in the same order (``call_batch``).
    link_field = settings.POSTMARK_LINK_FIELD
    sent = [payload for payload in batch.payloads if payload is not None]
    unknown = []
    for message, result, payload in zip(answer.messages, results or [], sent, strict=True):
        set_result(message, result)
        # A Bulk API request's top-level Metadata has no id: its recipients have one each.
        result.link_id = payload.get("Metadata", _NO_METADATA).get(link_field)
        if result.status == _UNKNOWN:
            result.request = payload
            unknown.append(result)
    settle(batch.messages)
    # The mail has gone (or not) by now: a receiver that fails (say, the log's database) must
    # not turn that into an exception the caller would answer by sending again, nor stop the
    # later batches. Its error is logged instead.
    responses = signals.post_send.send_robust(
        sender=type(backend),
        messages=batch.messages,
        results=message_results(batch.messages),
        exception=error,
        backend=backend,
    )
    for receiver, response in responses:
        if isinstance(response, Exception):
            logger.error(
                "post_send receiver %r failed after %d message(s) were sent",
                receiver,
                len(batch.messages),
                exc_info=response,
            )
    for result in unknown:
        result.request = None  # the log kept what settling needs; the caller keeps no request
    return error


def call(
    client: Client,
    template: bool,
    payloads: list[dict[str, Any]],
    messages: list[EmailMessage],
    *,
    bulk: bool = False,
    body: bytes | None = None,
) -> list[PostmarkResult]:
    """One API call for the payloads; a result per message, whatever the answer holds.

    ``body``, when given, is ``request_json``'s answer for these payloads, already encoded.
    """
    if bulk:
        return [PostmarkResult.from_bulk(client.send_bulk(payloads[0], body=body), messages[0])]
    if len(payloads) == 1:
        send_one = client.send_with_template if template else client.send
        return [PostmarkResult.from_api(send_one(payloads[0], body=body), messages[0])]
    send_many = client.send_batch_with_templates if template else client.send_batch
    return results_of(send_many(payloads, body=body), messages)


def request_json(batch: Batch, payloads: list[dict[str, Any]]) -> Any:
    """The JSON ``call`` posts for the batch's payloads (those not None), by the same choice of
    endpoint: the object itself for one message or a Bulk API request, else the batch's."""
    if batch.bulk or len(payloads) == 1:
        return payloads[0]
    return batch_json(payloads, template=batch.template)


@contextmanager
def server_client(client: Client, token: str | None) -> Iterator[Client]:
    """``client``, or for a message's ``server_token`` a client of that server for one call
    (``Client.for_server``: configured as ``client`` is; in test mode, the test token still)."""
    if not token or token == client.token:
        yield client
        return
    server = client.for_server(token)
    try:
        yield server
    finally:
        server.close()


def mark_unsent(batches: list[Batch], error: PostmarkError) -> None:
    """Results for the batches left unsent after a request failed (so nothing goes twice)."""
    for batch in batches:
        for message, payload in zip(batch.messages, batch.payloads, strict=True):
            if payload is not None:
                unsent = PostmarkResult(
                    Status.FAILED,
                    recipients=list(message.recipients()),
                    error_code=error.error_code,
                    message=f"Not sent: the request for an earlier batch failed ({error}).",
                    error=error,
                )
                set_result(message, unsent)
        settle(batch.messages)
