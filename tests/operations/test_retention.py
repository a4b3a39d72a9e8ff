"""``postmark_purge``: old rows go, in batches; what still matters stays."""

from __future__ import annotations

import io
import re
import uuid
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from postmark.models import Bounce, Message, QueuedBatch, Suppression, WebhookEvent
from postmark.operations.retention import parse_age, purge

pytestmark = pytest.mark.django_db

OLD = timezone.now() - timedelta(days=200)
RECENT = timezone.now() - timedelta(days=1)


def make_rows(when: object, n: int = 1, tag: str = "") -> None:
    for i in range(n):
        message = Message.objects.create(status="sent", from_email="a@x.com", to=f"{tag}{i}@x.com")
        Message.objects.filter(pk=message.pk).update(created_at=when, text_body="body")
        WebhookEvent.objects.create(
            body_sha256=f"{tag}{i}{when}", status="processed", body="{}", received_at=when
        )


def test_purge_deletes_old_rows_and_keeps_recent_ones() -> None:
    make_rows(OLD, 3, "old")
    make_rows(RECENT, 2, "new")
    removed = purge(timedelta(days=90), batch_size=2)
    assert removed["messages"] == 3 and removed["webhook events"] == 3
    assert Message.objects.count() == 2 and WebhookEvent.objects.count() == 2


def test_purge_keeps_suppressions_in_force_and_inactive_bounces() -> None:
    Suppression.objects.create(email="kept@x.com", suppressed_at=OLD)
    Suppression.objects.create(email="lifted@x.com", suppressed_at=OLD, lifted_at=OLD)
    Bounce.objects.create(postmark_id=1, type="HardBounce", bounced_at=OLD, inactive=True)
    Bounce.objects.create(postmark_id=2, type="SoftBounce", bounced_at=OLD, inactive=False)
    removed = purge(timedelta(days=90))
    assert (removed["lifted suppressions"], removed["bounces"]) == (1, 1)
    assert list(Suppression.objects.values_list("email", flat=True)) == ["kept@x.com"]
    assert list(Bounce.objects.values_list("postmark_id", flat=True)) == [1]


def test_purge_keeps_unknown_queued_batches_for_a_person_to_decide() -> None:
    for state in ("sent", "unknown"):
        batch = QueuedBatch.objects.create(id=uuid.uuid4(), state=state)
        QueuedBatch.objects.filter(pk=batch.pk).update(created_at=OLD)
    assert purge(timedelta(days=90))["queued batches"] == 1
    assert list(QueuedBatch.objects.values_list("state", flat=True)) == ["unknown"]


def test_dry_run_counts_and_deletes_nothing() -> None:
    make_rows(OLD, 2)
    out = io.StringIO()
    call_command("postmark_purge", "--dry-run", "--older-than", "30d", stdout=out)
    assert "Would delete rows older than 30 days:" in out.getvalue()
    assert "  2 messages" in out.getvalue()
    assert Message.objects.count() == 2


def test_command_defaults_to_the_retention_setting(settings: object) -> None:
    settings.POSTMARK_RETENTION_DAYS = 300  # type: ignore[attr-defined]
    make_rows(OLD)
    out = io.StringIO()
    call_command("postmark_purge", stdout=out)
    assert "Deleted rows older than 300 days:" in out.getvalue()
    assert "  0 messages" in out.getvalue() and Message.objects.count() == 1


def test_each_batch_is_one_bounded_select_and_one_delete() -> None:
    make_rows(OLD, 5)
    with CaptureQueriesContext(connection) as queries:
        assert purge(timedelta(days=90), batch_size=2)["messages"] == 5
    table = connection.ops.quote_name(Message._meta.db_table)
    deletes = [q["sql"] for q in queries if q["sql"].startswith(f"DELETE FROM {table}")]
    assert len(deletes) == 3  # 2 + 2 + 1 rows, never the whole table in one statement
    selects = [q["sql"] for q in queries if f"FROM {table}" in q["sql"] and "LIMIT 2" in q["sql"]]
    assert len(selects) == 4  # three batches and the empty one that ends the loop


@given(st.text(max_size=6))
def test_a_bad_age_is_refused_with_a_clear_message(text: str) -> None:
    try:
        age = parse_age(text)
    except ValueError as exc:
        assert repr(text) in str(exc)
    else:
        assert age >= timedelta(0)


def test_command_refuses_a_bad_age() -> None:
    with pytest.raises(CommandError, match="--older-than"):
        call_command("postmark_purge", "--older-than", "ninety days")


UNIT_WORDS = {"h": "hour", "d": "day", "w": "week", "": "day"}


@given(
    number=st.one_of(
        st.integers(0, 5000).map(str),
        st.decimals(0, 500, places=3).map(str),
        st.sampled_from(["0", "0.0", "1", "1.0", "0.5", "1_000", "2e2"]),
    ),
    unit=st.sampled_from(["h", "d", "w", "H", "D", "W", ""]),
)
def test_the_age_is_printed_as_given(number: str, unit: str) -> None:
    out = io.StringIO()
    call_command("postmark_purge", "--dry-run", "--older-than", number + unit, stdout=out)
    printed = re.search(r"^Would delete rows older than (\S+) (\w+):$", out.getvalue(), re.M)
    assert printed is not None, out.getvalue()
    shown, word = printed.groups()
    assert "e" not in shown.lower() and float(shown) == float(number)  # no 4.16667e-05
    given_word = UNIT_WORDS[unit.lower()]
    assert word == (given_word if float(number) == 1 else given_word + "s")


@pytest.mark.parametrize("zero", ["0d", "0", "0h", "0w", "0.0d"])
def test_an_age_of_zero_means_zero_not_the_default(zero: str) -> None:
    make_rows(timezone.now() - timedelta(minutes=1))
    out = io.StringIO()
    call_command("postmark_purge", "--dry-run", "--older-than", zero, stdout=out)
    unit = UNIT_WORDS[zero[-1] if zero[-1].isalpha() else ""]
    assert f"Would delete rows older than 0 {unit}s:" in out.getvalue()
    assert "  1 messages" in out.getvalue()  # the default, 90 days, would keep it


def test_an_age_older_than_the_calendar_is_refused() -> None:
    with pytest.raises(CommandError, match="--older-than"):
        call_command("postmark_purge", "--dry-run", "--older-than", "999999999d")
