"""The default sent-message log: a Message row per message, one bulk insert per API call."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.core.mail import EmailMessage, EmailMultiAlternatives, get_connection
from django.db import connection
from django.test.utils import CaptureQueriesContext

from postmark.message import PostmarkEmailMessage
from postmark.models import Message
from postmark.sending.recipients import LINK_KEY
from tests.support.fake_postmark import FakePostmark, Reply
from tests.support.link_ids import own_metadata

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]


def test_every_message_gets_a_row_in_one_insert(fake_postmark: FakePostmark) -> None:
    batch = [
        PostmarkEmailMessage(
            f"Subject {i}",
            "b",
            "Shop <shop@example.com>",
            [f"to{i}@example.com"],
            cc=["cc@example.com"],
            bcc=["bcc@example.com"],
            tag="receipt",
            metadata={"order": i},
            message_stream="outbound",
        )
        for i in range(3)
    ]
    with CaptureQueriesContext(connection) as queries:
        get_connection().send_messages(batch)
    table = connection.ops.quote_name("postmark_message")
    inserts = [q for q in queries if f"INSERT INTO {table}" in q["sql"]]
    assert len(inserts) == 1

    rows = list(Message.objects.order_by("subject"))
    assert [row.subject for row in rows] == ["Subject 0", "Subject 1", "Subject 2"]
    row = rows[1]
    assert row.message_id == uuid.UUID(batch[1].postmark.message_id)  # type: ignore[attr-defined]
    assert row.status == "sent"
    assert (row.from_email, row.to, row.cc, row.bcc) == (
        "Shop <shop@example.com>",
        "to1@example.com",
        "cc@example.com",
        "bcc@example.com",
    )
    assert (row.tag, own_metadata(row.metadata), row.message_stream) == (
        "receipt",
        {"order": "1"},
        "outbound",
    )
    # The id the message carried in its Metadata, kept as the row's link id.
    assert row.metadata[LINK_KEY] == str(row.link_id)
    assert row.submitted_at == batch[1].postmark.submitted_at  # type: ignore[attr-defined]
    assert (row.error_code, row.error, row.text_body, row.html_body) == (None, "", "", "")


def test_settings_defaults_are_logged_too(fake_postmark: FakePostmark, settings) -> None:  # type: ignore[no-untyped-def]
    settings.POSTMARK_TAG = "default"
    settings.POSTMARK_METADATA = {"site": "shop"}
    settings.POSTMARK_MESSAGE_STREAM = "transactional"
    EmailMessage("s", "b", "f@example.com", ["t@example.com"]).send()
    row = Message.objects.get()
    assert (row.tag, own_metadata(row.metadata), row.message_stream) == (
        "default",
        {"site": "shop"},
        "transactional",
    )


def test_failed_message_row_keeps_the_error(fake_postmark: FakePostmark) -> None:
    fake_postmark.script(Reply(422, {"ErrorCode": 300, "Message": "Invalid 'To' address."}))
    EmailMessage("s", "b", "f@example.com", ["t@example.com"]).send(fail_silently=True)
    row = Message.objects.get()
    assert (row.status, row.error_code, row.error, row.message_id) == (
        "failed",
        300,
        "Invalid 'To' address.",
        None,
    )


def test_unknown_outcome_is_logged_as_unknown(fake_postmark: FakePostmark) -> None:
    fake_postmark.script(Reply(500, {"Message": "Internal"}))
    EmailMessage("s", "b", "f@example.com", ["t@example.com"]).send(fail_silently=True)
    assert Message.objects.get().status == "unknown"


def test_accepted_with_inactive_addresses_keeps_postmark_text(fake_postmark: FakePostmark) -> None:
    text = "OK, but will not deliver to these inactive addresses: gone@example.com"
    fake_postmark.script(
        Reply(200, {"MessageID": str(uuid.uuid4()), "ErrorCode": 0, "Message": text})
    )
    EmailMessage("s", "b", "f@example.com", ["t@example.com", "gone@example.com"]).send()
    assert (Message.objects.get().status, Message.objects.get().error) == ("sent", text)


def test_a_message_id_that_is_not_a_uuid_does_not_break_the_log(
    fake_postmark: FakePostmark,
) -> None:
    fake_postmark.script(Reply(200, {"MessageID": "not-a-uuid", "ErrorCode": 0, "Message": "OK"}))
    assert EmailMessage("s", "b", "f@example.com", ["t@example.com"]).send() == 1
    assert Message.objects.get().message_id is None


def test_bodies_are_not_stored_by_default(fake_postmark: FakePostmark) -> None:
    message = EmailMultiAlternatives("s", "text", "f@example.com", ["t@example.com"])
    message.attach_alternative("<p>html</p>", "text/html")
    message.send()
    row = Message.objects.get()
    assert (row.text_body, row.html_body) == ("", "")


def test_bodies_are_stored_when_asked(fake_postmark: FakePostmark, settings) -> None:  # type: ignore[no-untyped-def]
    settings.POSTMARK_STORE_BODIES = True
    message = EmailMultiAlternatives("s", "text", "f@example.com", ["t@example.com"])
    message.attach_alternative("<p>html</p>", "text/html")
    message.send()
    row = Message.objects.get()
    assert (row.text_body, row.html_body) == ("text", "<p>html</p>")


def test_admin_lists_and_shows_logged_messages(fake_postmark: FakePostmark, admin_client) -> None:  # type: ignore[no-untyped-def]
    EmailMessage("Logged subject", "b", "f@example.com", ["t@example.com"]).send()
    row = Message.objects.get()
    changelist = admin_client.get("/admin/postmark/message/")
    assert changelist.status_code == 200
    assert "Logged subject" in changelist.content.decode()
    assert admin_client.get(f"/admin/postmark/message/{row.pk}/change/").status_code == 200
    assert admin_client.get("/admin/postmark/message/add/").status_code == 403


# ready() connects the receiver once, at startup; only a fresh process shows the setting's effect.
STARTUP_SCRIPT = """
import json, sys
import django
from django.conf import settings
import tests.settings as base

overrides = json.loads(sys.argv[1])
settings.configure(**{**{k: getattr(base, k) for k in dir(base) if k.isupper()}, **overrides})
django.setup()

from django.core.management import call_command
from django.core.mail import EmailMessage
from tests.support.fake_postmark import FakePostmark, start

call_command("migrate", verbosity=0)
fake = FakePostmark()
server, _ = start(fake)
settings.POSTMARK_API_URL = fake.url
sent = EmailMessage("s", "b", "f@example.com", ["t@example.com"]).send()
from postmark.models import Message
print(json.dumps({"sent": sent, "rows": Message.objects.count(), "posted": len(fake.requests)}))
"""


@pytest.mark.parametrize(("store", "rows"), [(True, 1), (False, 0)])
def test_store_messages_in_a_sites_settings_decides_from_startup_on(store: bool, rows: int) -> None:
    overrides = {
        "POSTMARK_STORE_MESSAGES": store,
        "DATABASES": {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
    }
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    done = subprocess.run(
        [sys.executable, "-c", STARTUP_SCRIPT, json.dumps(overrides)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    outcome = json.loads(done.stdout.strip().splitlines()[-1])
    assert outcome == {"sent": 1, "rows": rows, "posted": 1}


def test_overlong_from_is_cut_to_the_column_not_refused(fake_postmark: FakePostmark) -> None:
    # PostgreSQL refuses text longer than a varchar column; the mail has gone by then.
    sender = "N" * 600 + " <long@example.com>"
    assert EmailMessage("s", "b", sender, ["t@example.com"]).send() == 1
    assert Message.objects.get().from_email == sender[:500]


def test_a_messageid_logged_before_keeps_the_row_and_the_callers_transaction_usable(
    fake_postmark: FakePostmark, caplog: pytest.LogCaptureFixture
) -> None:
    # The test runs inside a transaction, as a view under ATOMIC_REQUESTS does. A second
    # message with the same MessageID breaks the log's unique key: the insert fails in its
    # savepoint, the transaction goes on, and the row is written again without the MessageID.
    same = str(uuid.uuid4())
    reply = Reply(200, {"MessageID": same, "ErrorCode": 0, "Message": "OK"})
    fake_postmark.script(reply, reply)
    assert EmailMessage("s", "b", "f@example.com", ["t@example.com"]).send() == 1
    with caplog.at_level("ERROR", logger="postmark"):
        assert EmailMessage("s2", "b", "f@example.com", ["t@example.com"]).send() == 1
    assert not any("post_send receiver" in r.getMessage() for r in caplog.records)
    first, second = Message.objects.order_by("pk")
    assert str(first.message_id) == same and second.message_id is None
    assert same in second.error and second.subject == "s2"
