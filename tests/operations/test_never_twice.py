"""Never twice, whatever fails when: generated sequences of faults (a call accepted and then cut
off, accepted and answered 500, answered too late; a call dropped, 500'd or 503'd before it was
accepted; a search index that lags), on the sends and on the resends, through PostmarkBackend
and through QueuedPostmarkBackend with its worker's task. After settling, the sandbox's counts
say every message was accepted at most once (exactly once when resending met no fault), every
row says what happened to its message, and none is left unknown once the search is trusted."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.core.mail import get_connection
from django.test import override_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from postmark.models import Message, QueuedBatch
from postmark.operations.settle import settle
from postmark.queue.tasks_api import task_backends
from postmark.sandbox import Sandbox
from postmark.sending.recipients import LINK_KEY
from tests.support.queued_sending import DUMMY, QUEUED_BACKEND, messages
from tests.support.settling import later, run_every_task

pytestmark = pytest.mark.django_db

#: Each fault the sandbox plays (None: a call answered as usual). "accept-slow" costs the
#: client's whole deadline (1 s here), so it comes up a third as often as each other one.
QUICK = [None, None, None, "accept-drop", "accept-500", "drop", "500", "503"]
FAULTS = st.sampled_from([*QUICK * 3, "accept-slow"])
faults = st.lists(FAULTS, max_size=10)


@contextmanager
def stand_in(batch_size: int, not_found: str) -> Iterator[Sandbox]:
    """A sandbox of its own for one example, the app pointed at it: small batches (many
    calls), one quick retry of what is safe to retry, a deadline of a second (a slow answer
    takes longer; any other, far less, even on a busy machine)."""
    with (
        Sandbox() as sandbox,
        override_settings(
            POSTMARK_API_URL=sandbox.url,
            POSTMARK_BATCH_SIZE=batch_size,
            POSTMARK_MAX_RETRIES=1,
            POSTMARK_RETRY_BACKOFF=0,
            POSTMARK_TIMEOUT=(0.5, 0.5),
            POSTMARK_QUEUE_RETRY_DELAY=0,
            POSTMARK_SETTLE_AFTER=0,
            POSTMARK_SETTLE_NOT_FOUND_AFTER=3600,
            POSTMARK_SETTLE_NOT_FOUND=not_found,
            TASKS={"default": {"BACKEND": DUMMY}},
        ),
    ):
        sandbox.faults.slow_seconds = 1.2
        Message.objects.all().delete()
        QueuedBatch.objects.all().delete()
        task_backends["default"].clear()
        yield sandbox


def send_all(count: int, queued: bool, commit: Any) -> None:
    batch = messages(count)
    if not queued:
        get_connection(fail_silently=True).send_messages(batch)
        return
    with commit(execute=True):
        get_connection(QUEUED_BACKEND, fail_silently=True).send_messages(batch)
    run_every_task(task_backends["default"], commit)  # the worker, and the settling it schedules


def settle_until_trusted(sandbox: Sandbox, rounds: int = 6) -> None:
    """What the settle task does over time: search again once the search can be trusted
    (the index caught up, POSTMARK_SETTLE_NOT_FOUND_AFTER passed), as often as it takes."""
    for _ in range(rounds):
        if not Message.objects.filter(status="unknown").exists():
            return
        sandbox.faults.index_delay = 0
        later()
        settle()


def assert_each_message_went_at_most_once_and_its_row_says_so(sandbox: Sandbox) -> None:
    copies = sandbox.copies(LINK_KEY)
    taken = {m.metadata[LINK_KEY]: m.message_id for m in sandbox.messages}
    assert all(count == 1 for count in copies.values()), copies
    rows = list(Message.objects.all())
    assert len(taken) <= len(rows)
    for row in rows:
        link = str(row.link_id)
        assert row.status in ("sent", "failed"), (row.status, row.error)
        if row.status == "sent":
            assert str(row.message_id) == taken[link]
        else:
            assert link not in copies, row.error
        assert row.settlement in ("", "found", "resent", "failed")
        assert (row.settlement == "resent") <= (row.resent_at is not None)
        assert row.payload == "" and row.settling_since is None


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    count=st.integers(1, 8),
    batch_size=st.integers(1, 3),
    on_sends=faults,
    on_resends=st.lists(FAULTS, max_size=4),
    index_lags=st.booleans(),
    queued=st.booleans(),
    not_found=st.sampled_from(["fail", "resend"]),
)
def test_whatever_fails_when_no_message_is_sent_twice_and_every_row_says_what_happened(
    django_capture_on_commit_callbacks: Any,
    count: int,
    batch_size: int,
    on_sends: list[str | None],
    on_resends: list[str | None],
    index_lags: bool,
    queued: bool,
    not_found: str,
) -> None:
    with stand_in(batch_size, not_found) as sandbox:
        sandbox.faults.plan(on_sends)
        sandbox.faults.index_delay = 3600 if index_lags else 0  # not searchable yet
        send_all(count, queued, django_capture_on_commit_callbacks)
        assert Message.objects.count() == count
        # Refused for certain by the send itself (a 503 retried into another): nothing to settle.
        failed_at_send = list(Message.objects.filter(status="failed").values_list("pk", flat=True))
        settle()  # the first search: what Postmark shows already is found
        sandbox.faults.clear()
        sandbox.faults.plan(on_resends)
        before = sum(sandbox.faults.applied.values())
        settle_until_trusted(sandbox)
        assert_each_message_went_at_most_once_and_its_row_says_so(sandbox)
        met_a_fault = sum(sandbox.faults.applied.values()) > before
        if not_found == "resend" and not met_a_fault:
            settled = Message.objects.exclude(pk__in=failed_at_send)
            assert set(settled.values_list("status", flat=True)) <= {"sent"}
        if not_found == "fail":
            assert not Message.objects.filter(settlement="resent").exists()


@pytest.mark.parametrize("queued", [False, True], ids=["PostmarkBackend", "queued"])
def test_a_thousand_messages_with_a_fault_on_a_third_of_the_calls_each_go_exactly_once(
    django_capture_on_commit_callbacks: Any, queued: bool
) -> None:
    started = time.monotonic()
    calls = 1000 // 50
    chosen = random.Random(20).choices(
        [None, "accept-drop", "accept-500", "drop", "500"], weights=[6, 1, 1, 1, 1], k=calls
    )
    with stand_in(50, "resend") as sandbox:
        sandbox.faults.plan(chosen)
        send_all(1000, queued, django_capture_on_commit_callbacks)
        settle()
        settle_until_trusted(sandbox)
        assert_each_message_went_at_most_once_and_its_row_says_so(sandbox)
        assert Message.objects.filter(status="sent").count() == 1000
        assert len(sandbox.copies(LINK_KEY)) == 1000
        settled = dict.fromkeys(["found", "resent"], 0)
        for outcome in Message.objects.exclude(settlement="").values_list("settlement", flat=True):
            settled[outcome] += 1
        faulty = [f for f in chosen if f is not None]
        assert settled == {
            "found": 50 * sum(f.startswith("accept") for f in faulty),
            "resent": 50 * sum(not f.startswith("accept") for f in faulty),
        }
    assert time.monotonic() - started < 60  # about 10 s here; CI's budget is 30
