"""The sandbox answers the sending endpoints as Postmark does: validations, error codes, HTTP
statuses, result objects. Checked over real HTTP, and through our own backend and client."""

from __future__ import annotations

import base64
import json
import re
import uuid
from typing import Any

import pytest
import requests
from django.core.mail import EmailMessage, send_mail

from postmark.api.timestamps import parse_timestamp
from postmark.client import Client
from postmark.exceptions import InactiveRecipientsError, InvalidRequestError, UnauthorizedError
from postmark.sandbox import Sandbox

pytestmark = pytest.mark.django_db

HEADERS = {"Accept": "application/json", "Content-Type": "application/json"}


def message(**fields: Any) -> dict[str, Any]:
    return {"From": "sender@example.com", "To": "bob@example.com", "TextBody": "Hi", **fields}


def post(
    sandbox: Sandbox, path: str, body: Any, *, token: str | None = "server-token", **headers: str
) -> requests.Response:
    sent = dict(HEADERS, **headers)
    if token is not None:
        sent["X-Postmark-Server-Token"] = token
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return requests.post(sandbox.url + path, data=data, headers=sent, timeout=10)


def refused(response: requests.Response, status: int, error_code: int) -> str:
    assert (response.status_code, response.json()["ErrorCode"]) == (status, error_code)
    text: str = response.json()["Message"]
    return text


def test_accepted_message_gets_a_postmark_result(postmark_sandbox: Sandbox) -> None:
    answer = post(postmark_sandbox, "/email", message(To="Bob <Bob@Example.COM>"))
    assert answer.status_code == 200
    result = answer.json()
    assert set(result) == {"To", "SubmittedAt", "MessageID", "ErrorCode", "Message"}
    assert result["ErrorCode"] == 0 and result["Message"] == "OK"
    assert result["To"] == "bob@example.com"  # addresses come back lowercased
    uuid.UUID(result["MessageID"])
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}[-+]\d\d:\d\d", result["SubmittedAt"]
    )
    assert parse_timestamp(result["SubmittedAt"]) is not None
    [stored] = postmark_sandbox.messages
    assert stored.message_id == result["MessageID"] and stored.to == ["bob@example.com"]


def test_result_has_no_to_when_the_message_had_only_bcc(postmark_sandbox: Sandbox) -> None:
    result = post(postmark_sandbox, "/email", message(To=None, Bcc="hidden@example.com")).json()
    assert result["ErrorCode"] == 0 and "To" not in result


@pytest.mark.parametrize("token", [None, ""])
def test_missing_token_is_401_with_error_code_10(postmark_sandbox: Sandbox, token: str) -> None:
    refused(post(postmark_sandbox, "/email", message(), token=token), 401, 10)
    assert postmark_sandbox.messages == []


def test_configured_token_refuses_others_but_takes_the_test_token() -> None:
    with Sandbox(token="right-token") as sandbox:
        refused(post(sandbox, "/email", message(), token="wrong"), 401, 10)
        assert post(sandbox, "/email", message(), token="right-token").status_code == 200
        assert post(sandbox, "/email", message(), token="POSTMARK_API_TEST").status_code == 200
        assert [m.test for m in sandbox.messages] == [False, True]


def test_wrong_token_raises_unauthorized_through_the_backend(settings: Any) -> None:
    with Sandbox(token="right-token") as sandbox:
        settings.POSTMARK_API_URL = sandbox.url
        settings.POSTMARK_API_KEY = "wrong-token"
        with pytest.raises(UnauthorizedError) as caught:
            send_mail("s", "b", "sender@example.com", ["bob@example.com"])
    assert caught.value.error_code == 10 and caught.value.http_status == 401


@pytest.mark.parametrize(
    ("fields", "error_code", "fragment"),
    [
        ({"From": None}, 300, "'From'"),
        ({"From": "not an address"}, 300, "'From'"),
        ({"To": None}, 300, "Zero recipients"),
        ({"To": "bob@example.com, nonsense"}, 300, "'To'"),
        ({"Cc": "@example.com"}, 300, "'Cc'"),
        ({"TextBody": None}, 300, "TextBody or HtmlBody"),
        ({"Tag": "x" * 1001}, 300, "Tag"),
        ({"TrackLinks": "Sometimes"}, 300, "TrackLinks"),
        ({"Metadata": {"a": {"nested": "no"}}}, 300, "Metadata"),
        ({"Metadata": {"Key": "1", "key": "2"}}, 300, "case"),
        ({"Headers": {"X-Not": "a list"}}, 300, "Headers"),
        (
            {"Attachments": [{"Name": "a.txt", "Content": "%%%", "ContentType": "text/plain"}]},
            300,
            "base64",
        ),
        ({"Attachments": [{"Name": "run.EXE", "Content": "", "ContentType": "x/y"}]}, 411, "EXE"),
        ({"MessageStream": "nope"}, 1235, "nope"),
        ({"MessageStream": "inbound"}, 1236, "inbound"),
    ],
)
def test_invalid_message_is_refused_with_postmarks_code(
    postmark_sandbox: Sandbox, fields: dict[str, Any], error_code: int, fragment: str
) -> None:
    text = refused(post(postmark_sandbox, "/email", message(**fields)), 422, error_code)
    assert fragment in text
    assert postmark_sandbox.messages == []


def test_fifty_recipients_pass_and_fifty_one_are_refused(postmark_sandbox: Sandbox) -> None:
    addresses = [f"r{n}@example.com" for n in range(51)]
    to, cc, bcc = ", ".join(addresses[:20]), ", ".join(addresses[20:40]), ", ".join(addresses[40:])
    text = refused(post(postmark_sandbox, "/email", message(To=to, Cc=cc, Bcc=bcc)), 422, 300)
    assert "51" in text
    bcc = ", ".join(addresses[40:50])
    assert post(postmark_sandbox, "/email", message(To=to, Cc=cc, Bcc=bcc)).status_code == 200


def test_message_over_ten_megabytes_is_413(postmark_sandbox: Sandbox) -> None:
    big = base64.b64encode(b"x" * (8 * 1024 * 1024)).decode()  # 10.7 MB once encoded
    attachment = {"Name": "big.bin.txt", "Content": big, "ContentType": "text/plain"}
    answer = post(postmark_sandbox, "/email", message(Attachments=[attachment]))
    assert answer.status_code == 413
    assert postmark_sandbox.messages == []


def test_message_over_ten_megabytes_fails_alone_inside_a_batch(postmark_sandbox: Sandbox) -> None:
    big = base64.b64encode(b"x" * (8 * 1024 * 1024)).decode()
    attachment = {"Name": "big.txt", "Content": big, "ContentType": "text/plain"}
    answer = post(postmark_sandbox, "/email/batch", [message(Attachments=[attachment]), message()])
    assert answer.status_code == 200
    assert [item["ErrorCode"] for item in answer.json()] == [300, 0]


@pytest.mark.parametrize(
    ("body", "status", "error_code"),
    [(b"{not json", 422, 402), (b"\xff\xfe", 422, 402), (b"[1, 2]", 422, 402)],
)
def test_body_that_is_not_a_message_is_refused(
    postmark_sandbox: Sandbox, body: bytes, status: int, error_code: int
) -> None:
    refused(post(postmark_sandbox, "/email", body), status, error_code)


def test_non_json_content_type_is_415(postmark_sandbox: Sandbox) -> None:
    answer = post(postmark_sandbox, "/email", message(), **{"Content-Type": "text/plain"})
    refused(answer, 415, 409)


def test_unknown_path_is_404(postmark_sandbox: Sandbox) -> None:
    answer = post(postmark_sandbox, "/emails", message())
    assert answer.status_code == 404


def test_batch_answers_each_message_with_its_own_error_code(postmark_sandbox: Sandbox) -> None:
    answer = post(
        postmark_sandbox, "/email/batch", [message(), message(From=""), message(To="CAROL@x.org")]
    )
    assert answer.status_code == 200
    results = answer.json()
    assert [r["ErrorCode"] for r in results] == [0, 300, 0]
    assert "MessageID" not in results[1]
    assert results[2]["To"] == "carol@x.org"
    assert len(postmark_sandbox.messages) == 2


def test_batch_of_501_is_refused_whole(postmark_sandbox: Sandbox) -> None:
    refused(post(postmark_sandbox, "/email/batch", [message()] * 501), 422, 410)
    assert postmark_sandbox.messages == []
    assert len(post(postmark_sandbox, "/email/batch", [message()] * 500).json()) == 500


def test_batch_must_be_an_array(postmark_sandbox: Sandbox) -> None:
    refused(post(postmark_sandbox, "/email/batch", message()), 422, 402)


def test_template_send_needs_a_template_and_a_model(postmark_sandbox: Sandbox) -> None:
    template = {"From": "sender@example.com", "To": "bob@example.com"}
    refused(post(postmark_sandbox, "/email/withTemplate", template), 422, 403)
    refused(post(postmark_sandbox, "/email/withTemplate", dict(template, TemplateId=5)), 422, 403)
    answer = post(
        postmark_sandbox,
        "/email/withTemplate",
        dict(template, TemplateAlias="welcome", TemplateModel={"name": "Bob"}),
    )
    assert answer.json()["ErrorCode"] == 0
    assert postmark_sandbox.messages[0].subject == "Template welcome"


def test_batch_with_templates_takes_a_messages_object(postmark_sandbox: Sandbox) -> None:
    item = {"From": "a@example.com", "To": "b@example.com", "TemplateId": 1, "TemplateModel": {}}
    answer = post(postmark_sandbox, "/email/batchWithTemplates", {"Messages": [item, {}]})
    assert [r["ErrorCode"] for r in answer.json()] == [0, 300]
    refused(post(postmark_sandbox, "/email/batchWithTemplates", [item]), 422, 402)


def test_suppressed_recipient_is_406_on_a_single_send(postmark_sandbox: Sandbox) -> None:
    postmark_sandbox.state.suppress("gone@example.com", "outbound", "HardBounce", "Recipient")
    text = refused(post(postmark_sandbox, "/email", message(To="Gone@Example.com")), 422, 406)
    assert "Found inactive addresses: gone@example.com" in text
    # Another stream has its own list.
    stream = message(To="gone@example.com", MessageStream="broadcast")
    assert post(postmark_sandbox, "/email", stream).json()["ErrorCode"] == 0


def test_suppressed_recipient_is_dropped_when_others_remain(postmark_sandbox: Sandbox) -> None:
    postmark_sandbox.state.suppress("gone@example.com", "outbound", "HardBounce", "Recipient")
    result = post(postmark_sandbox, "/email", message(To="gone@example.com, ok@example.com"))
    assert result.json()["ErrorCode"] == 0
    assert "inactive addresses: gone@example.com" in result.json()["Message"]
    assert postmark_sandbox.messages[0].outcomes["gone@example.com"] == "inactive"


def test_suppressed_recipient_is_406_inside_a_batch(postmark_sandbox: Sandbox) -> None:
    postmark_sandbox.state.suppress("gone@example.com", "outbound", "SpamComplaint", "Recipient")
    answer = post(postmark_sandbox, "/email/batch", [message(), message(To="gone@example.com")])
    assert answer.status_code == 200
    assert [r["ErrorCode"] for r in answer.json()] == [0, 406]


def test_client_maps_a_406_to_inactive_recipients_error(postmark_sandbox: Sandbox) -> None:
    postmark_sandbox.state.suppress("gone@example.com", "outbound", "HardBounce", "Recipient")
    client = Client("token", base_url=postmark_sandbox.url)
    with pytest.raises(InactiveRecipientsError) as caught:
        client.send(message(To="gone@example.com"))
    assert caught.value.recipients == ["gone@example.com"]
    with pytest.raises(InvalidRequestError):
        client.send(message(TextBody=""))
    client.close()


def test_backend_sends_a_batch_and_every_message_gets_its_message_id(
    postmark_sandbox: Sandbox,
) -> None:
    messages = [
        EmailMessage(f"n{n}", "body", "sender@example.com", [f"user{n}@example.com"])
        for n in range(3)
    ]
    from django.core.mail import get_connection

    assert get_connection().send_messages(messages) == 3
    assert [m.postmark.message_id for m in messages] == [  # type: ignore[attr-defined]
        m.message_id for m in postmark_sandbox.messages
    ]
    assert all(m.endpoint == "/email/batch" for m in postmark_sandbox.messages)


def test_attachments_are_kept_by_name_and_size_not_content(postmark_sandbox: Sandbox) -> None:
    content = base64.b64encode(b"x" * 3000).decode()
    attachment = {"Name": "a.txt", "Content": content, "ContentType": "text/plain"}
    assert post(postmark_sandbox, "/email", message(Attachments=[attachment])).status_code == 200
    [stored] = postmark_sandbox.messages
    assert stored.attachments == ["a.txt"]
    assert stored.payload["Attachments"] == [
        {"Name": "a.txt", "ContentType": "text/plain", "ContentLength": 3000}
    ]


@pytest.mark.parametrize("length", ["abc", "-5"])
def test_bad_content_length_is_400_not_a_dropped_connection(
    postmark_sandbox: Sandbox, length: str
) -> None:
    import socket

    host, port = postmark_sandbox.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as connection:
        connection.sendall(
            b"POST /email HTTP/1.1\r\nHost: x\r\nX-Postmark-Server-Token: t\r\n"
            b"Content-Type: application/json\r\nContent-Length: " + length.encode() + b"\r\n\r\n"
        )
        received = b""
        while chunk := connection.recv(4096):  # the sandbox closes: the body's end is unknown
            received += chunk
        answer = received.decode()
    assert answer.startswith("HTTP/1.1 400")
    assert '"ErrorCode": 402' in answer


@pytest.mark.parametrize("field", ["To", "Cc", "Bcc", "From"])
@pytest.mark.parametrize("nesting", ["(" * 3000, ":" * 3000, "\\" * 3000 + "(" * 3000])
def test_an_address_nested_past_the_parsers_recursion_is_error_300_not_a_crash(
    postmark_sandbox: Sandbox, field: str, nesting: str
) -> None:
    """The standard library's address parser recurses into comments and groups: nested deep
    enough, it raises RecursionError. The sandbox answers that as Postmark answers any address
    it cannot read."""
    response = post(postmark_sandbox, "/email", message(**{field: f"a{nesting}@example.com"}))
    assert refused(response, 422, 300)
