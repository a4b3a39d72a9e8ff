"""The API client on its own: configuration, error mapping, and the non-sending endpoints."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.exceptions import ImproperlyConfigured

from postmark import exceptions
from postmark.client import Client
from postmark.exceptions import api_error, parse_inactive_recipients
from tests.support.fake_postmark import FakePostmark, Received, Reply


def client(fake: FakePostmark) -> Client:
    return Client("token", base_url=fake.url + "/", max_retries=0)


def test_no_token_is_improperly_configured() -> None:
    with pytest.raises(ImproperlyConfigured, match="POSTMARK_API_KEY"):
        Client("")


def test_timeout_from_a_settings_list_becomes_a_tuple() -> None:
    assert Client("t", timeout=[1, 2]).timeout == (1, 2)  # type: ignore[arg-type]
    assert Client("t", timeout=3.0).timeout == 3.0


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (401, None, exceptions.UnauthorizedError),
        (422, 10, exceptions.UnauthorizedError),
        (422, 406, exceptions.InactiveRecipientsError),
        (422, 300, exceptions.InvalidRequestError),
        (404, None, exceptions.NotFoundError),
        (422, 407, exceptions.NotFoundError),
        (413, None, exceptions.InvalidRequestError),
        (429, None, exceptions.RateLimitedError),
        (500, None, exceptions.ServerError),
        (503, None, exceptions.ServerError),
    ],
)
def test_error_answers_map_to_the_exception_tree(
    status: int, code: int | None, expected: type[exceptions.PostmarkAPIError]
) -> None:
    error = api_error(status, code, "text")
    assert type(error) is expected
    assert (error.http_status, error.error_code, error.message) == (status, code, "text")


@pytest.mark.parametrize(
    ("text", "addresses"),
    [
        (
            "You tried to send to recipient(s) that have been marked as inactive. Found inactive "
            "addresses: a@example.com, B@Example.org. Inactive recipients are ones that ...",
            ["a@example.com", "B@Example.org"],
        ),
        (
            "OK, but will not deliver to these inactive addresses: x@example.com",
            ["x@example.com"],
        ),
        ("OK", []),
        ("", []),
    ],
)
def test_inactive_addresses_are_read_from_postmark_text(text: str, addresses: list[str]) -> None:
    assert parse_inactive_recipients(text) == addresses


def test_requests_carry_token_json_headers_and_user_agent(fake_postmark: FakePostmark) -> None:
    client(fake_postmark).send({"From": "f@example.com"})
    headers = fake_postmark.requests[0].headers
    assert headers["X-Postmark-Server-Token"] == "token"
    assert headers["Accept"] == "application/json"
    assert headers["User-Agent"].startswith("django-postmark/")


def test_iter_bounces_pages_through_every_bounce(fake_postmark: FakePostmark) -> None:
    def page(received: Received) -> Reply:
        query = parse_qs(urlsplit(received.path).query)
        offset = int(query["offset"][0])
        bounces = [{"ID": i} for i in range(offset, min(offset + 500, 1203))]
        return Reply(200, {"TotalCount": 1203, "Bounces": bounces})

    fake_postmark.script(page, page, page)
    ids = [bounce["ID"] for bounce in client(fake_postmark).iter_bounces(type="HardBounce")]
    assert ids == list(range(1203))
    assert len(fake_postmark.requests) == 3
    assert "type=HardBounce" in fake_postmark.requests[0].path


def test_suppression_stream_names_are_quoted(fake_postmark: FakePostmark) -> None:
    fake_postmark.script(Reply(200, {"Suppressions": [{"EmailAddress": "a@example.com"}]}))
    found = client(fake_postmark).get_suppressions("my stream")
    assert found == [{"EmailAddress": "a@example.com"}]
    assert fake_postmark.requests[0].path == "/message-streams/my%20stream/suppressions/dump"
