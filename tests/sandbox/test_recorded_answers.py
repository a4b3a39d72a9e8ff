"""The sandbox's bounce answers against the real API's, recorded in ``recorded/``.

The files are the answers' shapes as Postmark documents them (developer/api/bounce-api) and as
other clients recorded them from the live API: ``GET /bounces`` items carry no ``Metadata`` and
no ``RecordType`` (both are the webhook's), a ``Tag`` only when the message had one, and
``Content`` only from ``GET /bounces/{id}``; a missing bounce is HTTP 422 with ErrorCode 407.
Each answer of the sandbox must have exactly the recorded keys, with values of the same JSON
types: a key the sandbox adds one day fails here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import requests

from postmark.api.spec import BOUNCE_TYPES
from postmark.client import Client
from postmark.exceptions import InvalidRequestError
from postmark.sandbox import Sandbox
from tests.support.fake_postmark import FakePostmark, Reply
from tests.support.sandbox_api import send

pytestmark = pytest.mark.django_db

RECORDED = Path(__file__).parent / "recorded"
#: The bounce types a message to <type>@bounce-testing.postmarkapp.com gets, each answered.
BOUNCING = ["hardbounce", "softbounce", "transient", "spamcomplaint", "blocked", "dnserror"]


def recorded(name: str) -> Any:
    return json.loads((RECORDED / f"{name}.json").read_text())


def shape(answer: dict[str, Any]) -> dict[str, str]:
    """Each key with the JSON type of its value."""
    return {key: type(value).__name__ for key, value in answer.items()}


def recorded_bounce(*, tagged: bool) -> dict[str, Any]:
    items: list[dict[str, Any]] = recorded("bounces")["Bounces"]
    return next(item for item in items if ("Tag" in item) == tagged)


def raw(sandbox: Sandbox, method: str, path: str) -> requests.Response:
    headers = {"X-Postmark-Server-Token": "t", "Accept": "application/json"}
    return requests.request(method, sandbox.url + path, headers=headers, timeout=5)


@pytest.mark.parametrize("tag", ["", "welcome"])
@pytest.mark.parametrize("local", BOUNCING)
def test_get_bounces_answers_the_recorded_keys(
    postmark_sandbox: Sandbox, client: Client, local: str, tag: str
) -> None:
    send(client, f"{local}@bounce-testing.postmarkapp.com", Tag=tag, Metadata={"order": "7"})

    answer = client.get_bounces()

    assert answer.keys() == recorded("bounces").keys()
    [item] = answer["Bounces"]
    assert shape(item) == shape(recorded_bounce(tagged=bool(tag)))


@pytest.mark.parametrize("local", BOUNCING)
def test_get_a_bounce_answers_the_recorded_keys_with_its_content(
    postmark_sandbox: Sandbox, client: Client, local: str
) -> None:
    send(client, f"{local}@bounce-testing.postmarkapp.com", Metadata={"order": "7"})

    answer = client.get_bounce(postmark_sandbox.bounces[0].id)

    assert shape(answer) == shape(recorded("bounce"))
    assert answer["Content"] == client.get_bounce_dump(answer["ID"])


@pytest.mark.parametrize("tag", ["", "welcome"])
def test_activating_a_bounce_answers_the_recorded_keys(
    postmark_sandbox: Sandbox, client: Client, tag: str
) -> None:
    send(client, "hardbounce@bounce-testing.postmarkapp.com", Tag=tag, Metadata={"order": "7"})

    answer = client.activate_bounce(postmark_sandbox.bounces[0].id)

    expected = recorded("bounce_activate")
    assert answer.keys() == expected.keys()
    bounce = expected["Bounce"]
    if not tag:
        del bounce["Tag"]
    assert shape(answer["Bounce"]) == shape(bounce)


@pytest.mark.parametrize(("method", "path"), [("GET", ""), ("GET", "/dump"), ("PUT", "/activate")])
def test_a_missing_bounce_is_answered_422_with_error_code_407(
    postmark_sandbox: Sandbox, method: str, path: str
) -> None:
    answer = raw(postmark_sandbox, method, f"/bounces/424242{path}")

    assert answer.status_code == 422
    assert shape(answer.json()) == shape(recorded("bounce_not_found"))
    assert answer.json()["ErrorCode"] == recorded("bounce_not_found")["ErrorCode"]


def test_each_bounce_type_is_named_as_postmark_answers() -> None:
    for entry in recorded("deliverystats")["Bounces"]:
        if "Type" in entry:
            assert BOUNCE_TYPES[entry["Type"]].label == entry["Name"]
    for item in recorded("bounces")["Bounces"]:
        assert BOUNCE_TYPES[item["Type"]].label == item["Name"]


# --- The app's client ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "reply",
    [
        Reply(422, recorded("bounce_not_found")),  # Postmark
        Reply(404, {"Message": "Not found"}),  # a proxy, an older sandbox
        Reply(404, b"Not Found"),
    ],
)
@pytest.mark.parametrize(
    "call",
    [
        lambda client: client.get_bounce(424242),
        lambda client: client.get_bounce_dump(424242),
        lambda client: client.activate_bounce(424242),
    ],
)
def test_a_missing_bounce_is_a_not_found_error_whatever_the_status(
    fake_postmark: FakePostmark, reply: Reply, call: Any
) -> None:
    from postmark.exceptions import NotFoundError

    fake_postmark.script(reply)
    client = Client("server-token", base_url=fake_postmark.url, max_retries=0)

    with pytest.raises(NotFoundError) as caught:
        call(client)

    assert isinstance(caught.value, InvalidRequestError)  # what callers already catch
    assert caught.value.http_status == reply.status
