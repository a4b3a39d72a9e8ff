"""A batch row that cannot be read (keys missing, wrong types, another JSON shape, an envelope
version this release does not write, huge values) is marked, never deleted, and reported by
``postmark_recover``, which settles every good row all the same, and on a second run changes
nothing; a worker given such a row fails it without a request instead of leaving it sending."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django.db.models import JSONField, Value
from django.utils import timezone
from hypothesis import given, reject
from hypothesis import strategies as st

from postmark.models import Message, QueuedBatch
from tests.support.bad_batch_rows import Spoil, huge_but_readable, spoilers
from tests.support.fake_postmark import FakePostmark
from tests.support.queued_sending import messages, run_tasks, send
from tests.support.sending_strategies import examples

pytestmark = pytest.mark.django_db


def _queue_row(state: str, count: int, spoil: Spoil | None, commit: Any) -> QueuedBatch:
    """One batch queued, then left as a worker killed long ago would leave it (spoilt or not)."""
    send(messages(count), commit=commit)
    row = QueuedBatch.objects.order_by("-created_at").first()
    assert row is not None
    then = timezone.now() - timedelta(minutes=30)
    values: dict[str, Any] = {
        "state": state,
        "claimed_at": then if state == "sending" else None,
        "created_at": then,
        "enqueued_at": then,
    }
    if spoil is not None:
        values["messages"] = as_json(spoil(row.messages))
    store(row, values)
    return row


def store(row: QueuedBatch, values: dict[str, Any]) -> None:
    """Write the spoilt row. MariaDB keeps a JSON column under CHECK (JSON_VALID(...)), which
    refuses JSON nested deeper than 32: such a row cannot exist there, so the example is not
    one this database can meet (any other database stores it)."""
    try:
        with transaction.atomic():
            QueuedBatch.objects.filter(pk=row.pk).update(**values)
    except IntegrityError:
        if connection.vendor != "mysql":
            raise
        reject()


def as_json(value: Any) -> Value:
    # Value(..., JSONField()): a None must be stored as JSON's null, not SQL's NULL.
    return Value(value, JSONField())


def _recover() -> str:
    out = StringIO()
    call_command("postmark_recover", "--stale-after", "60", stdout=out)
    return out.getvalue()


def _good(spoil: Spoil | None) -> bool:
    return spoil is None or spoil is huge_but_readable


rows_strategy = st.lists(
    st.tuples(
        st.sampled_from(["sending", "pending"]),
        st.integers(1, 3),
        st.none() | st.just(huge_but_readable) | spoilers(),
    ),
    min_size=1,
    max_size=6,
).filter(lambda rows: not all(_good(spoil) for _, _, spoil in rows))


@given(rows=rows_strategy)
@examples(30)
def test_recovery_marks_each_unreadable_row_settles_every_good_one_and_runs_again_idempotently(
    queued: Any,
    fake_postmark: FakePostmark,
    django_capture_on_commit_callbacks: Any,
    rows: list[tuple[str, int, Spoil | None]],
) -> None:
    QueuedBatch.objects.all().delete()
    Message.objects.all().delete()
    fake_postmark.requests.clear()
    made = [
        (_queue_row(state, count, spoil, django_capture_on_commit_callbacks), state, spoil)
        for state, count, spoil in rows
    ]
    queued.clear()  # every task lost with its worker
    logged_rows = Message.objects.count()

    output = _recover()

    good_sending = [row for row, state, spoil in made if _good(spoil) and state == "sending"]
    good_pending = [row for row, state, spoil in made if _good(spoil) and state == "pending"]
    bad = [(row, state) for row, state, spoil in made if not _good(spoil)]
    assert f"{len(good_sending)} batch(es) marked unknown" in output
    assert f"{len(good_pending)} enqueued again" in output
    assert f"{len(bad)} batch(es) could not be read" in output
    for row, _ in bad:
        assert str(row.pk) in output
    settled = {row.pk: row for row in QueuedBatch.objects.all()}
    assert len(settled) == len(made)  # nothing deleted
    for row, state in bad:
        # Unknown when a worker may have sent it, failed when nothing was; the reason kept.
        assert settled[row.pk].state == ("unknown" if state == "sending" else "failed")
        assert "cannot be read" in settled[row.pk].error
    for row in good_sending:
        assert settled[row.pk].state == "unknown"
        assert {m.status for m in _rows_of(settled[row.pk])} == {"unknown"}
    assert sorted(r.args[0] for r in queued.results) == sorted(str(r.pk) for r in good_pending)
    assert Message.objects.count() == logged_rows
    assert fake_postmark.requests == []

    # Again: everything is settled, nothing is reported, nothing changes.
    states = dict(QueuedBatch.objects.values_list("pk", "state"))
    again = _recover()
    assert again.strip() == "0 batch(es) marked unknown, 0 enqueued again."
    assert dict(QueuedBatch.objects.values_list("pk", "state")) == states

    # The good pending batches, enqueued again, are sent.
    run_tasks(queued)
    for row in good_pending:
        assert QueuedBatch.objects.get(pk=row.pk).state == "sent"
        assert {m.status for m in _rows_of(row)} == {"sent"}


def _rows_of(row: QueuedBatch) -> list[Message]:
    ids = [entry["envelope"]["log_id"] for entry in row.messages]
    return list(Message.objects.filter(link_id__in=ids))


@given(spoil=spoilers())
@examples(30)
def test_a_worker_fails_an_unreadable_batch_without_a_request_and_marks_its_log_rows(
    queued: Any,
    fake_postmark: FakePostmark,
    django_capture_on_commit_callbacks: Any,
    spoil: Spoil,
) -> None:
    QueuedBatch.objects.all().delete()
    Message.objects.all().delete()
    fake_postmark.requests.clear()
    queued.clear()
    send(messages(2), commit=django_capture_on_commit_callbacks)
    row = QueuedBatch.objects.get()
    store(row, {"messages": as_json(spoil(row.messages))})

    [outcome] = run_tasks(queued)

    assert outcome["state"] == "failed"
    settled = QueuedBatch.objects.get()
    assert settled.state == "failed" and "cannot be read" in settled.error
    assert "Nothing was sent" in settled.error
    assert fake_postmark.requests == []
    assert queued.results == []  # never tried again
    # Its log rows say so, where the row still names them (a spoilt envelope may not).
    assert Message.objects.count() == 2
    assert set(Message.objects.values_list("status", flat=True)) <= {"failed", "queued"}


def test_the_row_in_the_report_recover_crashed_on_is_settled_with_the_others(
    queued: Any, django_capture_on_commit_callbacks: Any
) -> None:
    """The reported case: an entry without "payload" (KeyError: 'payload'), first of three."""
    bad = _queue_row(
        "sending",
        1,
        lambda entries: [{k: v for k, v in e.items() if k != "payload"} for e in entries],
        django_capture_on_commit_callbacks,
    )
    good = [_queue_row("sending", 1, None, django_capture_on_commit_callbacks) for _ in range(2)]
    output = _recover()
    assert "2 batch(es) marked unknown" in output and str(bad.pk) in output
    assert {QueuedBatch.objects.get(pk=row.pk).state for row in [bad, *good]} == {"unknown"}
    assert "lacks payload" in QueuedBatch.objects.get(pk=bad.pk).error


def test_a_row_whose_json_python_cannot_decode_is_marked_too(
    queued: Any, fake_postmark: FakePostmark, django_capture_on_commit_callbacks: Any
) -> None:
    """JSON the database takes but Python refuses to decode (an integer of 5,000 digits, past
    its limit on converting text to int): recovery and the worker cannot even load the row."""
    bad_sending = _queue_row("sending", 1, None, django_capture_on_commit_callbacks)
    bad_pending = _queue_row("pending", 1, None, django_capture_on_commit_callbacks)
    good = _queue_row("sending", 1, None, django_capture_on_commit_callbacks)
    for row in (bad_sending, bad_pending):
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {QueuedBatch._meta.db_table} SET messages = %s WHERE id = %s",
                [
                    "[" + "7" * 5000 + "]",
                    QueuedBatch._meta.pk.get_db_prep_value(row.pk, connection),
                ],
            )
    queued.clear()
    output = _recover()
    assert "1 batch(es) marked unknown, 0 enqueued again" in output
    assert str(bad_sending.pk) in output and str(bad_pending.pk) in output
    states = dict(QueuedBatch.objects.values_list("pk", "state"))
    assert states == {bad_sending.pk: "unknown", bad_pending.pk: "failed", good.pk: "unknown"}
    errors = QueuedBatch.objects.filter(pk__in=[bad_sending.pk, bad_pending.pk])
    assert all("cannot be decoded" in error for error in errors.values_list("error", flat=True))
