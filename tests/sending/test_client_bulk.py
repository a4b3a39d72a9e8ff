"""The client's Bulk API methods: ``send_bulk`` and ``get_bulk_status``, against the sandbox (which
plays Postmark) and the scriptable stand-in (which plays its failures)."""

from __future__ import annotations

import datetime
from collections.abc import Iterator

import pytest

from postmark import exceptions
from postmark.api.spec import ERROR_BULK_NOT_ENABLED
from postmark.client import Client
from postmark.sandbox import Sandbox
from tests.support.fake_postmark import FakePostmark, Reply

BULK = {
    "From": "news@example.com",
    "Subject": "Hello {{Name}}",
    "TextBody": "Your renewal is on {{Renewal}}.",
    "MessageStream": "broadcast",
    "Messages": [
        {
            "To": "ann@example.com",
            "TemplateModel": {"Name": "Ann", "Renewal": datetime.date(2026, 12, 24)},
            "Metadata": {"link": "a1"},
        },
        {"To": "bob@example.com", "TemplateModel": {"Name": "Bob"}, "Metadata": {"link": "b2"}},
    ],
}


@pytest.fixture
def sandbox_client(postmark_sandbox: Sandbox) -> Iterator[Client]:
    client = Client("server-token", base_url=postmark_sandbox.url, max_retries=0)
    yield client
    client.close()


def test_send_bulk_is_accepted_as_one_request_for_every_recipient(
    sandbox_client: Client, postmark_sandbox: Sandbox
) -> None:
    answer = sandbox_client.send_bulk(BULK)
    assert answer["Status"] == "Accepted" and answer["ID"]
    ann, bob = postmark_sandbox.messages
    # The template model's date went as JSON, like every other request's.
    assert ann.text_body == "Your renewal is on 2026-12-24."
    assert (ann.subject, bob.subject) == ("Hello Ann", "Hello Bob")
    assert (ann.metadata["link"], bob.metadata["link"]) == ("a1", "b2")


def test_get_bulk_status_follows_a_request_to_completion(sandbox_client: Client) -> None:
    bulk_id = sandbox_client.send_bulk(BULK)["ID"]
    statuses = [sandbox_client.get_bulk_status(bulk_id) for _ in range(3)]
    assert [s["Status"] for s in statuses] == ["Accepted", "Processing", "Completed"]
    assert statuses[-1]["TotalMessages"] == 2 and statuses[-1]["PercentageCompleted"] == 100


def test_an_account_without_the_bulk_api_raises_an_error_with_its_code(
    sandbox_client: Client, postmark_sandbox: Sandbox
) -> None:
    postmark_sandbox.bulk.enabled = False
    with pytest.raises(exceptions.InvalidRequestError) as refused:
        sandbox_client.send_bulk(BULK)
    assert refused.value.error_code == ERROR_BULK_NOT_ENABLED
    assert "support" in refused.value.message
    assert postmark_sandbox.messages == []


def test_an_unknown_bulk_id_is_a_404_error(sandbox_client: Client) -> None:
    with pytest.raises(exceptions.InvalidRequestError) as unknown:
        sandbox_client.get_bulk_status("no-such-request")
    assert unknown.value.http_status == 404


def test_the_bulk_id_cannot_leave_its_path(fake_postmark: FakePostmark) -> None:
    client = Client("token", base_url=fake_postmark.url, max_retries=0)
    fake_postmark.script(Reply(200, {"Status": "Completed"}))
    client.get_bulk_status("../../bounces?x=1")
    [received] = fake_postmark.requests
    assert received.path == "/email/bulk/..%2F..%2Fbounces%3Fx%3D1"


def test_a_bulk_request_is_never_retried_after_a_500_but_is_after_a_503(
    fake_postmark: FakePostmark,
) -> None:
    client = Client("token", base_url=fake_postmark.url, max_retries=2, retry_backoff=0)
    fake_postmark.script(Reply(500, {"ErrorCode": 0, "Message": "Oops"}))
    with pytest.raises(exceptions.ServerError):
        client.send_bulk(BULK)
    assert len(fake_postmark.requests) == 1  # Postmark may have taken it: sending again doubles
    fake_postmark.script(Reply(503, {"ErrorCode": 0, "Message": "Maintenance"}))
    fake_postmark.script(Reply(200, {"ID": "x", "Status": "Accepted", "SubmittedAt": "now"}))
    assert client.send_bulk(BULK)["ID"] == "x"
    assert [r.path for r in fake_postmark.requests] == ["/email/bulk"] * 3
