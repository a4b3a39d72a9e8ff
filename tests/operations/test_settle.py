"""Settling: a message whose send's answer never came is searched for by the id in its Metadata.
Found, its row becomes "sent" with Postmark's MessageID (and its webhooks link to it); not
found once the search can be trusted, it is marked failed or resent once, by setting; a signal
says which. Against the sandbox, whose counts say how many copies of each message it took."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core.mail import get_connection
from django.test import Client as WebClient

from postmark.message import PostmarkEmailMessage
from postmark.models import Message
from postmark.operations.settle import settle
from postmark.sandbox import Sandbox
from postmark.sending.recipients import LINK_KEY
from tests.support import webhook_payloads as payloads
from tests.support.settling import TRUSTED_AFTER, later, unknown
from tests.support.webhook_helpers import post

pytestmark = pytest.mark.django_db


def copies(sandbox: Sandbox, row: Message) -> int:
    return sandbox.copies(LINK_KEY)[str(row.link_id)]


@pytest.mark.parametrize("fault", ["accept-drop", "accept-500"])
def test_a_message_postmark_took_is_found_and_becomes_sent_with_its_message_id(
    sandbox: Sandbox, settled: list[Any], fault: str
) -> None:
    row = unknown(sandbox, fault)
    assert row.payload and row.unknown_since is not None
    report = settle()
    assert (report.found, report.resent, report.failed, report.waiting) == (1, 0, 0, [])
    row.refresh_from_db()
    [taken] = sandbox.messages
    assert (row.status, str(row.message_id), row.settlement) == ("sent", taken.message_id, "found")
    assert row.payload == "" and row.submitted_at is not None
    assert "Found in Postmark's search" in row.error
    assert settled == [("found", row.pk, row.error)]
    assert copies(sandbox, row) == 1


def test_the_webhooks_of_a_found_message_link_to_its_row(
    sandbox: Sandbox, client: WebClient
) -> None:
    row = unknown(sandbox, "accept-drop")
    settle()
    row.refresh_from_db()
    delivery = payloads.delivery(MessageID=str(row.message_id), Metadata={})
    assert post(client, delivery).status_code == 200
    row.refresh_from_db()
    assert (row.status, row.delivered_at is not None) == ("delivered", True)


def test_a_webhook_that_comes_first_settles_the_row_and_settling_leaves_it(
    sandbox: Sandbox, client: WebClient, settled: list[Any]
) -> None:
    row = unknown(sandbox, "accept-500")
    [taken] = sandbox.messages
    delivery = payloads.delivery(MessageID=taken.message_id, Metadata=dict(taken.metadata))
    assert post(client, delivery).status_code == 200
    row.refresh_from_db()
    assert (row.status, str(row.message_id), row.payload) == ("delivered", taken.message_id, "")
    assert settle().found == 0 and settled == []


def test_not_found_before_the_search_can_be_trusted_it_stays_unknown_and_waits(
    sandbox: Sandbox, settled: list[Any]
) -> None:
    row = unknown(sandbox, "500")
    report = settle()
    assert report.waiting == [str(row.link_id)]
    assert report.next_at == row.unknown_since + timedelta(seconds=TRUSTED_AFTER)
    row.refresh_from_db()
    assert (row.status, row.settlement, row.settling_since) == ("unknown", "", None)
    assert settled == [] and copies(sandbox, row) == 0


def test_not_found_once_trusted_it_is_marked_failed_by_default(
    sandbox: Sandbox, settled: list[Any]
) -> None:
    row = unknown(sandbox, "drop")
    later()
    assert settle().failed == 1
    row.refresh_from_db()
    assert (row.status, row.settlement, row.payload) == ("failed", "failed", "")
    assert 'POSTMARK_SETTLE_NOT_FOUND is "fail"' in row.error
    assert settled == [("failed", row.pk, row.error)]
    assert copies(sandbox, row) == 0


def test_not_found_once_trusted_it_is_resent_once_with_the_same_id(
    sandbox: Sandbox, settled: list[Any], settings: Any
) -> None:
    settings.POSTMARK_SETTLE_NOT_FOUND = "resend"
    row = unknown(sandbox, "500", metadata={"order": "7"})
    later()
    assert settle().resent == 1
    row.refresh_from_db()
    [taken] = sandbox.messages
    assert (row.status, row.settlement) == ("sent", "resent")
    assert str(row.message_id) == taken.message_id and row.resent_at is not None
    assert taken.metadata == {"order": "7", LINK_KEY: str(row.link_id)}
    assert settled == [("resent", row.pk, row.error)]
    assert copies(sandbox, row) == 1
    assert settle().resent == 0 and copies(sandbox, row) == 1  # settled: never again


def test_a_resend_whose_answer_is_lost_too_is_searched_for_and_found(
    sandbox: Sandbox, settled: list[Any], settings: Any
) -> None:
    settings.POSTMARK_SETTLE_NOT_FOUND = "resend"
    row = unknown(sandbox, "500")
    later()
    sandbox.faults.plan(["accept-drop"])  # the resend: taken, its answer lost
    report = settle()
    assert (report.resent, report.waiting) == (0, [str(row.link_id)])
    row.refresh_from_db()
    assert (row.status, row.resent_at is not None) == ("unknown", True)
    assert "its answer was lost too" in row.error
    assert settle().found == 1
    row.refresh_from_db()
    assert (row.status, row.settlement, copies(sandbox, row)) == ("sent", "found", 1)


def test_a_resend_not_taken_either_is_never_sent_a_third_time(
    sandbox: Sandbox, settled: list[Any], settings: Any
) -> None:
    settings.POSTMARK_SETTLE_NOT_FOUND = "resend"
    row = unknown(sandbox, "500")
    later()
    sandbox.faults.plan(["500"])
    settle()
    later()
    assert settle().failed == 1
    row.refresh_from_db()
    assert (row.status, row.settlement) == ("failed", "failed")
    assert "resent once by settling" in row.error
    assert copies(sandbox, row) == 0
    assert sandbox.faults.applied == {"500": 2}  # the send and the one resend: no third call


def test_a_resend_postmark_refuses_fails_with_its_error_code(
    sandbox: Sandbox, settings: Any
) -> None:
    settings.POSTMARK_SETTLE_NOT_FOUND = "resend"
    row = unknown(sandbox, "500")
    sandbox.state.suppress("ann@example.com", "outbound", "HardBounce", "Recipient")
    later()
    assert settle().failed == 1
    row.refresh_from_db()
    assert (row.status, row.error_code, row.settlement) == ("failed", 406, "failed")
    assert "the resend was refused" in row.error


def test_a_row_without_its_request_is_marked_failed_rather_than_resent(
    sandbox: Sandbox, settings: Any
) -> None:
    settings.POSTMARK_SETTLE_NOT_FOUND = "resend"
    row = unknown(sandbox, "500")
    Message.objects.filter(pk=row.pk).update(payload="")
    later()
    assert settle().failed == 1
    row.refresh_from_db()
    assert row.status == "failed" and "no request was kept" in row.error
    assert copies(sandbox, row) == 0


def test_a_message_slow_to_show_in_the_search_is_found_once_it_does(sandbox: Sandbox) -> None:
    sandbox.faults.index_delay = 600  # Postmark has it, its search does not show it yet
    row = unknown(sandbox, "accept-drop")
    assert settle().waiting == [str(row.link_id)]
    sandbox.faults.index_delay = 0
    assert settle().found == 1


def test_a_bulk_api_recipient_is_resent_alone_in_a_bulk_request_of_its_own(
    sandbox: Sandbox, settings: Any
) -> None:
    settings.POSTMARK_SETTLE_NOT_FOUND = "resend"
    sandbox.faults.plan(["500"])
    message = PostmarkEmailMessage(
        "Hi {{name}}", "Body", "shop@example.com", ["ann@example.com", "bob@example.com"],
        bulk=True, merge_data={"bob@example.com": {"name": "Bob"}},
    )  # fmt: skip
    get_connection(fail_silently=True).send_messages([message])
    rows = {row.to: row for row in Message.objects.all()}
    assert {row.status for row in rows.values()} == {"unknown"}
    later()
    assert settle().resent == 2
    [ann, bob] = sorted(sandbox.messages, key=lambda m: m.to)
    assert bob.subject == "Hi Bob"
    for taken in (ann, bob):
        row = Message.objects.get(pk=rows[taken.to[0]].pk)
        assert (row.status, row.settlement, row.bulk_request_id != "") == ("queued", "resent", True)
        assert taken.metadata[LINK_KEY] == str(row.link_id)


def test_a_dry_run_searches_and_says_what_it_would_do_and_changes_nothing(
    sandbox: Sandbox, settings: Any, settled: list[Any]
) -> None:
    settings.POSTMARK_SETTLE_NOT_FOUND = "resend"
    found = unknown(sandbox, "accept-drop")
    lost = unknown(sandbox, "500", to="bob@example.com")
    later()
    before = list(Message.objects.order_by("pk").values())
    report = settle(dry_run=True)
    assert (report.found, report.resent, report.failed) == (1, 1, 0)
    assert list(Message.objects.order_by("pk").values()) == before
    assert settled == [] and copies(sandbox, lost) == 0 and copies(sandbox, found) == 1


def test_a_row_sent_through_a_server_no_longer_listed_is_left_unknown_and_counted(
    sandbox: Sandbox, settings: Any
) -> None:
    settings.POSTMARK_SERVER_TOKENS = ["news-server-token"]
    row = unknown(sandbox, "500", server_token="news-server-token")
    settings.POSTMARK_SERVER_TOKENS = []
    later()
    report = settle()
    assert (report.unsearchable, report.failed) == (1, 0)
    row.refresh_from_db()
    assert (row.status, row.settling_since) == ("unknown", None)
    settings.POSTMARK_SERVER_TOKENS = ["news-server-token"]
    assert settle().failed == 1


def test_the_search_names_the_stream_the_message_went_on(sandbox: Sandbox) -> None:
    row = unknown(sandbox, "accept-drop", message_stream="broadcast")
    assert row.message_stream == "broadcast"
    assert settle().found == 1


def test_the_field_it_was_sent_under_is_searched_even_after_the_setting_changed(
    sandbox: Sandbox, settings: Any
) -> None:
    row = unknown(sandbox, "accept-drop")
    settings.POSTMARK_LINK_FIELD = "renamed-id"
    assert settle().found == 1
    row.refresh_from_db()
    assert row.status == "sent"
