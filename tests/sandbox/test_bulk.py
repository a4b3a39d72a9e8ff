"""The sandbox's Bulk API over real HTTP: content once, a message per recipient with its own model
and Metadata, the request's status moving to Completed, webhooks that link back through Metadata,
and the refusal of an account without the feature."""

from __future__ import annotations

import json
import uuid
from typing import Any

import requests
from hypothesis import given
from hypothesis import strategies as st

from postmark.api.spec import ERROR_BULK_NOT_ENABLED
from postmark.sandbox import Sandbox
from tests.sandbox.test_sending import post, refused
from tests.support.fake_postmark import FakePostmark

SHARED = {
    "From": "news@example.com",
    "Subject": "News for {{FirstName}}",
    "TextBody": "Hi {{FirstName}} of {{Team.Name}}{{Missing}}",
    "HtmlBody": "<p>Hi {{FirstName}}, {{{Raw}}}</p>",
    "MessageStream": "broadcast",
    "Metadata": {"campaign": "november"},
}


def bulk(*messages: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {**SHARED, **fields, "Messages": list(messages)}


def recipient(n: int, **fields: Any) -> dict[str, Any]:
    return {
        "To": f"reader{n}@example.com",
        "TemplateModel": {"FirstName": f"Reader <{n}>", "Team": {"Name": "Blue"}, "Raw": "<b>"},
        "Metadata": {"recipient-id": f"id-{n}"},
        **fields,
    }


def status(sandbox: Sandbox, bulk_id: str) -> requests.Response:
    return requests.get(
        f"{sandbox.url}/email/bulk/{bulk_id}",
        headers={"Accept": "application/json", "X-Postmark-Server-Token": "server-token"},
        timeout=10,
    )


def test_a_bulk_request_is_one_message_per_recipient_with_its_own_model_filled_in(
    postmark_sandbox: Sandbox,
) -> None:
    answer = post(postmark_sandbox, "/email/bulk", bulk(recipient(1), recipient(2)))
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert set(result) == {"ID", "Status", "SubmittedAt"} and result["Status"] == "Accepted"
    uuid.UUID(result["ID"])
    first, second = postmark_sandbox.messages
    assert (first.to, second.to) == (["reader1@example.com"], ["reader2@example.com"])
    assert first.subject == "News for Reader <1>"
    assert first.text_body == "Hi Reader <1> of Blue"  # a missing value is empty, as in Postmark
    assert first.html_body == "<p>Hi Reader &lt;1&gt;, <b></p>"  # {{{Raw}}} is not escaped
    assert first.metadata == {"campaign": "november", "recipient-id": "id-1"}
    assert {first.endpoint, second.endpoint} == {"/email/bulk"}
    assert first.message_id != second.message_id


def test_each_recipients_webhook_carries_that_recipients_metadata(
    fake_postmark: FakePostmark,
) -> None:
    with Sandbox(webhook_url=fake_postmark.url + "/hook", webhook_delay=0.0) as sandbox:
        messages = [recipient(n) for n in range(3)]
        messages.append(recipient(3, To="hardbounce@bounce-testing.postmarkapp.com"))
        assert post(sandbox, "/email/bulk", bulk(*messages)).status_code == 200
        deliveries = sandbox.wait_for_webhooks()
    assert {d.state for d in deliveries} == {"delivered"}
    posted = {
        (r.body["RecordType"], r.body["Metadata"]["recipient-id"]) for r in fake_postmark.requests
    }
    expected = {
        ("Delivery", "id-0"),
        ("Delivery", "id-1"),
        ("Delivery", "id-2"),
        ("Bounce", "id-3"),
    }
    assert posted == expected


def test_the_status_goes_from_accepted_through_processing_to_completed(
    postmark_sandbox: Sandbox,
) -> None:
    bulk_id = post(postmark_sandbox, "/email/bulk", bulk(recipient(1), recipient(2))).json()["ID"]
    seen = [status(postmark_sandbox, bulk_id).json() for _ in range(4)]
    assert [s["Status"] for s in seen] == ["Accepted", "Processing", "Completed", "Completed"]
    assert [s["PercentageCompleted"] for s in seen] == [0, 50, 100, 100]
    assert {(s["Id"], s["TotalMessages"], s["Subject"]) for s in seen} == {
        (bulk_id, 2, SHARED["Subject"])
    }


def test_an_unknown_bulk_request_is_404(postmark_sandbox: Sandbox) -> None:
    refused(status(postmark_sandbox, str(uuid.uuid4())), 404, 404)


def test_an_account_without_the_bulk_api_is_refused_with_its_error_code(
    postmark_sandbox: Sandbox,
) -> None:
    postmark_sandbox.bulk.enabled = False
    text = refused(post(postmark_sandbox, "/email/bulk", bulk(recipient(1))), 422, 14)
    assert "support" in text and ERROR_BULK_NOT_ENABLED == 14
    refused(status(postmark_sandbox, "any-id"), 422, ERROR_BULK_NOT_ENABLED)
    assert postmark_sandbox.messages == []


def test_one_bad_recipient_message_refuses_the_whole_request(postmark_sandbox: Sandbox) -> None:
    messages = [recipient(1), recipient(2, To="not an address")]
    text = refused(post(postmark_sandbox, "/email/bulk", bulk(*messages)), 422, 300)
    assert text.startswith("Messages[1]: ")
    assert postmark_sandbox.messages == []


def test_a_template_bulk_request_keeps_each_recipients_model(postmark_sandbox: Sandbox) -> None:
    body = {
        "From": "news@example.com",
        "TemplateAlias": "newsletter",
        "MessageStream": "broadcast",
        "Messages": [recipient(1), {"To": "reader2@example.com"}],
    }
    assert post(postmark_sandbox, "/email/bulk", body).status_code == 200
    first, second = postmark_sandbox.messages
    assert first.payload["TemplateModel"]["FirstName"] == "Reader <1>"
    assert second.payload["TemplateModel"] == {}


def test_with_the_test_token_nothing_is_delivered(fake_postmark: FakePostmark) -> None:
    with Sandbox(webhook_url=fake_postmark.url, webhook_delay=0.0) as sandbox:
        answer = post(sandbox, "/email/bulk", bulk(recipient(1)), token="POSTMARK_API_TEST")
        assert answer.status_code == 200
        assert sandbox.wait_for_webhooks() == []
        assert [m.test for m in sandbox.messages] == [True]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=8,
)
recipient_messages = st.fixed_dictionaries(
    {},
    optional={
        "To": st.sampled_from(["a@example.com", "B <b@example.com>", "", "bad"]) | json_values,
        "Cc": st.sampled_from(["c@example.com", None]) | json_values,
        "TemplateModel": json_values,
        "Metadata": st.dictionaries(st.text(max_size=5), json_values, max_size=3) | json_values,
        "Headers": json_values,
    },
)


@given(messages=st.lists(recipient_messages, max_size=4) | json_values)
def test_any_bulk_body_is_answered_200_with_every_message_or_refused_with_none(
    messages: Any,
) -> None:
    with Sandbox() as sandbox:
        body = json.dumps({**SHARED, "Messages": messages}).encode()
        answer = post(sandbox, "/email/bulk", body)
        if answer.status_code == 200:
            assert len(sandbox.messages) == len(messages)
        else:
            assert 400 <= answer.status_code < 500, answer.text
            assert isinstance(answer.json()["ErrorCode"], int) and answer.json()["Message"]
            assert sandbox.messages == []
