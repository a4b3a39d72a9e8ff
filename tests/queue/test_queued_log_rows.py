"""A queued message is in the ``Message`` log from the moment it is queued: a row with status
"queued", written in the same transaction as its batch row (one per recipient of a Bulk API
or merge_data message, as the log writes after sending). The worker's send updates those same
rows (found by the link id its batch entry keeps): no second row, whatever the outcome."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.db import transaction
from hypothesis import given
from hypothesis import strategies as st

from postmark.message import PostmarkEmailMessage
from postmark.models import Message, QueuedBatch, Suppression
from postmark.sending.recipients import LINK_KEY
from tests.support.fake_postmark import FakePostmark, Received, Reply, default_reply
from tests.support.queued_sending import messages, run_tasks, send
from tests.support.sending_strategies import examples

pytestmark = pytest.mark.django_db

BULK_ID = "5d0c3a56-2f1b-4b7e-9a43-0c8e51d7a6f2"


def with_bulk_answers(received: Received) -> Reply:
    if received.path == "/email/bulk":
        return Reply(200, {"ID": BULK_ID, "Status": "Accepted"})
    return default_reply(received)


def snapshot() -> dict[int, tuple[str, str, str]]:
    """Every log row: pk -> (to, subject, status)."""
    return {
        pk: (to, subject, status)
        for pk, to, subject, status in Message.objects.values_list("pk", "to", "subject", "status")
    }


def test_a_queued_message_is_a_queued_row_at_once_and_the_worker_sends_that_same_row(
    queued: Any, fake_postmark: FakePostmark, django_capture_on_commit_callbacks: Any
) -> None:
    assert send(messages(3, tag="welcome"), commit=django_capture_on_commit_callbacks) == 3
    before = snapshot()
    assert sorted(before.values()) == [
        (f"user{n}@example.com", f"Subject {n}", "queued") for n in range(3)
    ]
    rows = Message.objects.order_by("to")
    assert all(row.message_id is None and row.tag == "welcome" for row in rows)
    # Each row is linked to its entry in the batch row by the id the envelope keeps.
    entries = QueuedBatch.objects.get().messages
    assert sorted(str(row.link_id) for row in rows) == sorted(
        e["envelope"]["log_id"] for e in entries
    )

    run_tasks(queued)

    after = snapshot()
    assert after.keys() == before.keys()  # the same rows, no second one
    assert {status for _, _, status in after.values()} == {"sent"}
    # Each row has its own message's MessageID, as the batch row records Postmark's answer.
    answered = {e["envelope"]["log_id"]: e["result"]["message_id"] for e in entries_after()}
    assert {str(r.link_id): str(r.message_id) for r in Message.objects.all()} == answered
    assert len(set(answered.values())) == 3
    assert all(row.submitted_at is not None and row.error == "" for row in Message.objects.all())


def entries_after() -> list[dict[str, Any]]:
    return list(QueuedBatch.objects.get().messages)


@pytest.mark.parametrize(
    ("reply", "status"),
    [
        (Reply(422, {"ErrorCode": 300, "Message": "Invalid 'To' address."}), "failed"),
        (Reply(401, {"ErrorCode": 10, "Message": "Bad token"}), "failed"),
        (Reply(500, {"ErrorCode": 0, "Message": "Oops"}), "unknown"),
    ],
    ids=["422", "401", "500"],
)
def test_a_failed_send_updates_the_queued_rows(
    queued: Any,
    fake_postmark: FakePostmark,
    django_capture_on_commit_callbacks: Any,
    reply: Reply,
    status: str,
) -> None:
    send(messages(2), commit=django_capture_on_commit_callbacks)
    before = snapshot()
    fake_postmark.script(reply)
    run_tasks(queued)
    after = snapshot()
    assert after.keys() == before.keys()
    assert {s for _, _, s in after.values()} == {status}
    assert all(row.error for row in Message.objects.all())


def test_the_rows_commit_with_the_batch_row_or_not_at_all(queued: Any) -> None:
    with pytest.raises(RuntimeError), transaction.atomic():
        send(messages(2))
        assert Message.objects.filter(status="queued").count() == 2
        raise RuntimeError("the view failed")
    assert not QueuedBatch.objects.exists() and not Message.objects.exists()


def test_with_the_log_off_nothing_is_written_when_queued_and_the_worker_adds_the_rows(
    queued: Any, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.POSTMARK_STORE_MESSAGES = False
    send(messages(2), commit=django_capture_on_commit_callbacks)
    assert not Message.objects.exists()
    settings.POSTMARK_STORE_MESSAGES = True
    run_tasks(queued)
    assert list(Message.objects.values_list("status", flat=True)) == ["sent", "sent"]


def test_a_bulk_message_has_a_queued_row_per_recipient_and_the_worker_updates_them(
    queued: Any, fake_postmark: FakePostmark, django_capture_on_commit_callbacks: Any
) -> None:
    to = [f"reader{n}@example.com" for n in range(5)]
    news = PostmarkEmailMessage("News", "Hi {{name}}", "s@example.com", to, bulk=True)
    news.merge_data = {address: {"name": f"R{n}"} for n, address in enumerate(to)}
    send([news], commit=django_capture_on_commit_callbacks)
    before = snapshot()
    assert sorted(to_ for to_, _, _ in before.values()) == to
    assert {s for _, _, s in before.values()} == {"queued"}
    assert not Message.objects.exclude(bulk_request_id="").exists()
    fake_postmark.script(with_bulk_answers)

    run_tasks(queued)

    assert snapshot().keys() == before.keys()
    [request] = fake_postmark.requests
    link_of = {m["To"]: m["Metadata"][LINK_KEY] for m in request.body["Messages"]}
    for row in Message.objects.all():
        assert (row.status, row.bulk_request_id) == ("queued", BULK_ID)  # Postmark's queue now
        assert str(row.link_id) == link_of[row.to]


def test_a_merge_data_message_has_a_row_per_recipient_before_and_after_the_worker(
    queued: Any, fake_postmark: FakePostmark, django_capture_on_commit_callbacks: Any
) -> None:
    to = ["ann@example.com", "bob@example.com", "cy@example.com"]
    welcome = PostmarkEmailMessage(
        from_email="shop@example.com", to=to, template_alias="welcome", template_model={}
    )
    welcome.merge_data = {address: {"name": address[:3]} for address in to}
    send([welcome], commit=django_capture_on_commit_callbacks)
    before = snapshot()
    assert sorted(t for t, _, s in before.values() if s == "queued") == to
    run_tasks(queued)
    after = snapshot()
    assert after.keys() == before.keys()
    assert sorted(t for t, _, s in after.values() if s == "sent") == to


def test_a_suppressed_message_has_its_final_row_at_once_and_keeps_it(
    queued: Any, django_capture_on_commit_callbacks: Any
) -> None:
    Suppression.objects.create(email="user1@example.com", suppressed_at="2026-01-01T00:00:00Z")
    send(messages(2), fail_silently=True, commit=django_capture_on_commit_callbacks)
    assert sorted(s for _, _, s in snapshot().values()) == ["queued", "suppressed"]
    before = snapshot()
    run_tasks(queued)
    assert snapshot().keys() == before.keys()
    assert sorted(s for _, _, s in snapshot().values()) == ["sent", "suppressed"]


# --- Any mix of messages, batch sizes and outcomes --------------------------------------------

REPLIES = {
    "accepted": with_bulk_answers,
    "refused": lambda received: Reply(422, {"ErrorCode": 300, "Message": "Invalid 'To'."}),
    "unknown": lambda received: Reply(500, {"ErrorCode": 0, "Message": "Oops"}),
}
#: The statuses after the worker (a message refused in the caller stays failed).
FINAL = {
    "accepted": {"sent", "queued", "suppressed", "failed"},
    "refused": {"failed", "suppressed"},
    "unknown": {"unknown", "suppressed", "failed"},
}


@st.composite
def mixes(draw: st.DrawFn) -> list[PostmarkEmailMessage]:
    """Plain, refused, merge_data and Bulk API messages; each message's recipients are
    numbered apart, so that every log row names one recipient."""
    made: list[PostmarkEmailMessage] = []
    for n in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["plain", "refused", "merge", "bulk"]))
        to = [f"m{n}r{r}@example.com" for r in range(draw(st.integers(1, 3)))]
        if kind in ("plain", "refused"):
            message = PostmarkEmailMessage(f"Plain {n}", "b", "s@example.com", to[:1])
            if kind == "refused":  # refused in the caller, logged failed (fail_silently)
                message.track_links = "Sometimes"
        elif kind == "merge":
            message = PostmarkEmailMessage(
                from_email="s@example.com", to=to, template_alias="welcome", template_model={}
            )
        else:
            message = PostmarkEmailMessage(f"Bulk {n}", "Hi {{name}}", "s@example.com", to)
            message.bulk = True
        if kind in ("merge", "bulk"):
            message.merge_data = {address: {"name": address} for address in to}
        made.append(message)
    return made


@given(
    mix=mixes(),
    suppressed=st.sets(st.sampled_from([f"m{n}r0@example.com" for n in range(6)]), max_size=3),
    batch_size=st.integers(1, 4),
    outcome=st.sampled_from(sorted(REPLIES)),
)
@examples(20)
def test_any_mix_keeps_one_row_per_recipient_from_queueing_to_the_outcome(
    queued: Any,
    fake_postmark: FakePostmark,
    settings: Any,
    django_capture_on_commit_callbacks: Any,
    mix: list[PostmarkEmailMessage],
    suppressed: set[str],
    batch_size: int,
    outcome: str,
) -> None:
    QueuedBatch.objects.all().delete()
    Message.objects.all().delete()
    Suppression.objects.all().delete()
    queued.clear()
    fake_postmark.replies.clear()
    settings.POSTMARK_BATCH_SIZE = batch_size
    for address in suppressed:
        Suppression.objects.create(email=address, suppressed_at="2026-01-01T00:00:00Z")
    # A row per recipient; a Bulk API message's suppressed recipient has none of its own
    # (its rows say it was left out), unless it was the only one.
    expected = sorted(
        address
        for message in mix
        for address in message.to
        if not (message.bulk and len(message.to) > 1 and address in suppressed)
    )
    # Refused in the caller (fail_silently), unless suppressed before any payload was built.
    refused = {m.to[0] for m in mix if m.track_links and m.to[0] not in suppressed}

    send(mix, fail_silently=True, commit=django_capture_on_commit_callbacks)
    before = snapshot()
    assert sorted(to for to, _, _ in before.values()) == expected
    assert {s for _, _, s in before.values()} <= {"queued", "suppressed", "failed"}
    assert {to for to, _, s in before.values() if s == "failed"} == refused
    assert all(row.link_id is not None for row in Message.objects.all())

    fake_postmark.script(*[REPLIES[outcome]] * 50)
    run_tasks(queued)

    after = snapshot()
    assert after.keys() == before.keys()
    assert {s for _, _, s in after.values()} <= FINAL[outcome]
    assert not Message.objects.filter(status="queued", bulk_request_id="").exists()
    assert len({row.link_id for row in Message.objects.all()}) == len(after)
    assert all(isinstance(row.link_id, uuid.UUID) for row in Message.objects.all())
