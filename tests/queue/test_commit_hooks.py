"""The queued backend enqueues its tasks in a commit hook (``transaction.on_commit``). When the
task backend fails there, nothing may be raised: Django would run no later commit hook, the
caller's or other apps'. The batch stays pending (its messages queued), the error is logged
naming the batch, and ``postmark_recover`` enqueues it again."""

from __future__ import annotations

import logging
from functools import partial
from io import StringIO
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.db import transaction
from hypothesis import given
from hypothesis import strategies as st

from postmark.models import Message, QueuedBatch
from tests.support.fake_postmark import FakePostmark
from tests.support.queued_sending import messages, run_tasks, send
from tests.support.sending_strategies import examples

pytestmark = pytest.mark.django_db(transaction=True)

TOKEN = "server-token"  # tests.settings' POSTMARK_API_KEY


class BrokerDown(Exception):
    """As a task backend's own client library might raise."""


FAULTS = st.sampled_from(
    [
        RuntimeError,
        ConnectionError,
        ConnectionRefusedError,
        TimeoutError,
        OSError,
        ValueError,
        KeyError,
        TypeError,
        ImproperlyConfigured,
        BrokerDown,
    ]
)


@given(
    fault=FAULTS,
    text=st.text(max_size=40),
    before=st.integers(0, 3),
    after=st.integers(0, 3),
    count=st.integers(1, 4),
    batch_size=st.sampled_from([1, 2, 500]),
    fail_silently=st.booleans(),
    in_savepoint=st.booleans(),
)
@examples(12)
def test_a_failing_enqueue_raises_nothing_every_other_hook_runs_and_recovery_sends_the_batch(
    queued: Any,
    fake_postmark: FakePostmark,
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    fault: type[Exception],
    text: str,
    before: int,
    after: int,
    count: int,
    batch_size: int,
    fail_silently: bool,
    in_savepoint: bool,
) -> None:
    QueuedBatch.objects.all().delete()
    Message.objects.all().delete()
    queued.clear()
    fake_postmark.requests.clear()
    caplog.clear()
    settings.POSTMARK_BATCH_SIZE = batch_size

    def broken_enqueue(*args: Any, **kwargs: Any) -> Any:
        raise fault(text)

    ran: list[str] = []
    with monkeypatch.context() as patched, caplog.at_level(logging.ERROR, "postmark"):
        patched.setattr(queued, "enqueue", broken_enqueue)
        with transaction.atomic():
            for n in range(before):
                transaction.on_commit(partial(ran.append, f"before {n}"))
            items = messages(count)
            if in_savepoint:
                with transaction.atomic():
                    assert send(items, fail_silently=fail_silently) == count
            else:
                assert send(items, fail_silently=fail_silently) == count
            for n in range(after):
                transaction.on_commit(partial(ran.append, f"after {n}"))

    assert ran == [f"before {n}" for n in range(before)] + [f"after {n}" for n in range(after)]
    batches = list(QueuedBatch.objects.all())
    assert {batch.state for batch in batches} == {"pending"}
    assert all(batch.task_id == "" and batch.enqueued_at is None for batch in batches)
    assert [item.postmark.status for item in items] == ["queued"] * count
    assert Message.objects.filter(status="queued").count() == count
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == len(batches)  # one each, naming the batch and what will send it
    assert all(any(str(b.pk) in e and "postmark_recover" in e for e in errors) for b in batches)
    assert TOKEN not in caplog.text

    # The task backend works again: recovery enqueues each batch, the worker sends it once.
    out = StringIO()
    call_command("postmark_recover", "--stale-after", "0", stdout=out)
    assert f"{len(batches)} enqueued again" in out.getvalue()
    run_tasks(queued)
    assert {batch.state for batch in QueuedBatch.objects.all()} == {"sent"}
    assert len(fake_postmark.sent_messages) == count
    assert Message.objects.filter(status="sent").count() == Message.objects.count() == count


def test_a_hook_registered_by_another_app_after_a_failing_enqueue_still_runs(
    queued: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The plain case, without Hypothesis: Django stops at the first hook that raises."""

    def broken_enqueue(*args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("the broker is down")

    monkeypatch.setattr(queued, "enqueue", broken_enqueue)
    ran: list[str] = []
    with transaction.atomic():
        send(messages(1))
        transaction.on_commit(lambda: ran.append("the other app's hook"))
    assert ran == ["the other app's hook"]
    assert QueuedBatch.objects.get().state == "pending"
