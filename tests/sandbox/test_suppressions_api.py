"""The sandbox's suppressions endpoints: manual suppressions created, listed, filtered and
deleted; what it refuses."""

from __future__ import annotations

import pytest

from postmark.client import Client
from postmark.exceptions import InvalidRequestError
from postmark.sandbox import Sandbox
from tests.support.sandbox_api import send

pytestmark = pytest.mark.django_db


def test_manual_suppressions_are_created_listed_filtered_and_deleted(
    postmark_sandbox: Sandbox, client: Client
) -> None:
    statuses = client.create_suppressions(["Ann@Example.com", "not-an-address"])
    assert statuses == [
        {"EmailAddress": "ann@example.com", "Status": "Suppressed", "Message": None},
        {
            "EmailAddress": "not-an-address",
            "Status": "Failed",
            "Message": "An invalid email address was provided.",
        },
    ]
    with pytest.raises(InvalidRequestError) as caught:
        send(client, "ann@example.com")
    assert caught.value.error_code == 406
    [listed] = client.get_suppressions(SuppressionReason="ManualSuppression", Origin="Customer")
    assert listed["EmailAddress"] == "ann@example.com"
    assert client.get_suppressions(EmailAddress="ANN@example.com") == [listed]
    assert client.get_suppressions(SuppressionReason="HardBounce") == []
    assert client.get_suppressions("broadcast") == []
    assert client.delete_suppressions(["ann@example.com"])[0]["Status"] == "Deleted"
    assert send(client, "ann@example.com")["ErrorCode"] == 0


def test_spam_complaint_suppression_cannot_be_deleted(
    postmark_sandbox: Sandbox, client: Client
) -> None:
    send(client, "spamcomplaint@bounce-testing.postmarkapp.com")
    [status] = client.delete_suppressions(["spamcomplaint@bounce-testing.postmarkapp.com"])
    assert status["Status"] == "Failed"
    assert len(client.get_suppressions()) == 1


def test_unknown_stream_and_bad_suppression_bodies_are_refused(
    postmark_sandbox: Sandbox, client: Client
) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        client.get_suppressions("no-such-stream")
    assert caught.value.error_code == 1235
    with pytest.raises(InvalidRequestError) as caught:
        client.request("POST", "/message-streams/outbound/suppressions", json_body=["x"])
    assert caught.value.error_code == 402
    with pytest.raises(InvalidRequestError) as caught:
        client.create_suppressions([f"a{n}@example.com" for n in range(51)])
    assert caught.value.error_code == 403
