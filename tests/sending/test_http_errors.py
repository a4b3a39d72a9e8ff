"""Each way an API call can fail: the exception, the result, and whether it was retried."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.mail import EmailMessage, get_connection

from postmark import exceptions
from postmark.results import PostmarkResult
from tests.support.fake_postmark import FakePostmark, Reply, start
from tests.support.ports import free_port

pytestmark = pytest.mark.django_db

INACTIVE_TEXT = (
    "You tried to send to recipient(s) that have been marked as inactive. Found inactive "
    "addresses: bob@example.com, carol@example.org. Inactive recipients are ones that have "
    "generated a hard bounce, a spam complaint, or a manual suppression."
)


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The backoff waits, recorded instead of slept."""
    waits: list[float] = []
    monkeypatch.setattr("postmark.client.http.sleep", waits.append)
    return waits


@pytest.fixture
def backoff(settings) -> None:  # type: ignore[no-untyped-def]
    settings.POSTMARK_RETRY_BACKOFF = 0.5
    settings.POSTMARK_MAX_RETRIES = 3


def message() -> EmailMessage:
    return EmailMessage("s", "b", "from@example.com", ["bob@example.com"])


def result(message: EmailMessage) -> PostmarkResult:
    value: PostmarkResult = message.postmark  # type: ignore[attr-defined]
    return value


def test_401_raises_unauthorized(fake_postmark: FakePostmark) -> None:
    fake_postmark.script(Reply(401, {"ErrorCode": 10, "Message": "Bad or missing server token."}))
    sent = message()
    with pytest.raises(exceptions.UnauthorizedError) as caught:
        sent.send()
    assert (caught.value.http_status, caught.value.error_code) == (401, 10)
    assert caught.value.message == "Bad or missing server token."
    assert (result(sent).status, result(sent).error_code) == ("failed", 10)
    assert len(fake_postmark.requests) == 1


def test_422_inactive_recipients_names_the_addresses(fake_postmark: FakePostmark) -> None:
    fake_postmark.script(Reply(422, {"ErrorCode": 406, "Message": INACTIVE_TEXT}))
    with pytest.raises(exceptions.InactiveRecipientsError) as caught:
        message().send()
    assert caught.value.recipients == ["bob@example.com", "carol@example.org"]
    assert (caught.value.http_status, caught.value.error_code) == (422, 406)


def test_422_with_another_code_is_an_invalid_request(fake_postmark: FakePostmark) -> None:
    fake_postmark.script(Reply(422, {"ErrorCode": 300, "Message": "Invalid 'To' address."}))
    with pytest.raises(exceptions.InvalidRequestError) as caught:
        message().send()
    assert not isinstance(caught.value, exceptions.InactiveRecipientsError)
    assert caught.value.error_code == 300
    assert str(caught.value) == "Invalid 'To' address. (ErrorCode 300, HTTP 422)"


@pytest.mark.parametrize("status", [429, 503])
def test_retried_with_backoff_then_succeeding(
    status: int,
    fake_postmark: FakePostmark,
    sleeps: list[float],
    backoff: None,
) -> None:
    fake_postmark.script(Reply(status, {"ErrorCode": 0, "Message": "later"}), Reply(status, {}))
    sent = message()
    assert sent.send() == 1
    assert len(fake_postmark.requests) == 3
    assert sleeps == [0.5, 1.0]
    assert result(sent).status == "sent"


@pytest.mark.parametrize(
    ("status", "error"), [(429, exceptions.RateLimitedError), (503, exceptions.ServerError)]
)
def test_retried_with_backoff_then_giving_up(
    status: int,
    error: type[Exception],
    fake_postmark: FakePostmark,
    sleeps: list[float],
    backoff: None,
) -> None:
    fake_postmark.script(*[Reply(status, {"Message": "busy"})] * 10)
    sent = message()
    with pytest.raises(error):
        sent.send()
    assert len(fake_postmark.requests) == 4  # the first try and MAX_RETRIES = 3
    assert sleeps == [0.5, 1.0, 2.0]
    # Postmark certainly did not take it: a plain failure, safe to send again later.
    assert result(sent).status == "failed"


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        (Reply(500, {"ErrorCode": 0, "Message": "Internal error"}), exceptions.ServerError),
        (Reply(200, {}, delay=1.0), exceptions.PostmarkTimeout),
        (Reply(drop=True), exceptions.NetworkError),
    ],
    ids=["500", "read-timeout", "dropped-connection"],
)
def test_an_answer_postmark_may_have_acted_on_is_not_retried_and_the_outcome_is_unknown(
    fake_postmark: FakePostmark,
    sleeps: list[float],
    reply: Reply,
    error: type[exceptions.PostmarkError],
    settings,  # type: ignore[no-untyped-def]
) -> None:
    settings.POSTMARK_TIMEOUT = (2.0, 0.2)
    fake_postmark.script(reply)
    sent = message()
    with pytest.raises(error) as caught:
        sent.send()
    assert exceptions.may_have_been_sent(caught.value)
    assert len(fake_postmark.requests) == 1
    assert sleeps == []
    assert result(sent).status == "unknown"


def test_connection_refused_is_retried_then_gives_up(
    sleeps: list[float],
    backoff: None,
    settings,  # type: ignore[no-untyped-def]
) -> None:
    settings.POSTMARK_API_URL = f"http://127.0.0.1:{free_port()}"
    sent = message()
    with pytest.raises(exceptions.NetworkError) as caught:
        sent.send()
    assert caught.value.may_have_been_sent is False
    assert sleeps == [0.5, 1.0, 2.0]
    assert result(sent).status == "failed"


@pytest.fixture
def late_server() -> Iterator[tuple[FakePostmark, int, list]]:
    """A fake Postmark that a test starts on a fixed port only when it wants to."""
    fake, servers = FakePostmark(), []
    yield fake, free_port(), servers
    for server in servers:
        server.shutdown()
        server.server_close()


def test_connection_refused_is_retried_then_succeeds(
    monkeypatch: pytest.MonkeyPatch,
    late_server: tuple[FakePostmark, int, list],
    settings,  # type: ignore[no-untyped-def]
) -> None:
    fake, port, servers = late_server
    settings.POSTMARK_API_URL = f"http://127.0.0.1:{port}"
    waits: list[float] = []

    def sleep_then_come_up(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == 2:
            servers.append(start(fake, port)[0])

    monkeypatch.setattr("postmark.client.http.sleep", sleep_then_come_up)
    sent = message()
    assert sent.send() == 1
    assert len(waits) == 2  # refused twice, then the server was up
    assert len(fake.requests) == 1
    assert result(sent).status == "sent"


ERRORS = [
    Reply(401, {"ErrorCode": 10, "Message": "Bad token"}),
    Reply(422, {"ErrorCode": 406, "Message": INACTIVE_TEXT}),
    Reply(500, {"Message": "boom"}),
    Reply(drop=True),
]


@pytest.mark.parametrize("reply", ERRORS, ids=["401", "406", "500", "drop"])
def test_fail_silently_swallows_delivery_errors_and_returns_zero(
    reply: Reply, fake_postmark: FakePostmark
) -> None:
    fake_postmark.script(reply)
    sent = message()
    assert get_connection(fail_silently=True).send_messages([sent]) == 0
    assert result(sent).status in ("failed", "unknown")
    assert isinstance(result(sent).error, exceptions.PostmarkError)


def test_fail_silently_via_send_mail(fake_postmark: FakePostmark) -> None:
    from django.core.mail import send_mail

    fake_postmark.script(Reply(401, {"ErrorCode": 10, "Message": "Bad token"}))
    assert send_mail("s", "b", "f@example.com", ["t@example.com"], fail_silently=True) == 0


@pytest.mark.parametrize("fail_silently", [False, True])
def test_missing_api_key_is_improperly_configured_even_when_failing_silently(
    fail_silently: bool,
    fake_postmark: FakePostmark,
    settings,  # type: ignore[no-untyped-def]
) -> None:
    settings.POSTMARK_API_KEY = None
    with pytest.raises(ImproperlyConfigured, match="POSTMARK_API_KEY"):
        get_connection(fail_silently=fail_silently).send_messages([message()])
    assert fake_postmark.requests == []


def test_test_mode_sends_with_the_test_token(fake_postmark: FakePostmark, settings) -> None:  # type: ignore[no-untyped-def]
    settings.POSTMARK_API_KEY = None
    settings.POSTMARK_TEST_MODE = True
    assert message().send() == 1
    assert fake_postmark.requests[0].headers["X-Postmark-Server-Token"] == "POSTMARK_API_TEST"


def test_test_mode_wins_over_a_configured_key(fake_postmark: FakePostmark, settings) -> None:  # type: ignore[no-untyped-def]
    settings.POSTMARK_TEST_MODE = True
    get_connection(api_key="real-token").send_messages([message()])
    assert fake_postmark.requests[0].headers["X-Postmark-Server-Token"] == "POSTMARK_API_TEST"


def test_backend_arguments_win_over_settings(fake_postmark: FakePostmark, settings) -> None:  # type: ignore[no-untyped-def]
    url = fake_postmark.url
    settings.POSTMARK_API_URL = "http://127.0.0.1:9"
    backend = get_connection(api_key="other-token", api_url=url)
    assert backend.send_messages([message()]) == 1
    assert fake_postmark.requests[0].headers["X-Postmark-Server-Token"] == "other-token"


def test_non_json_success_answer_leaves_the_outcome_unknown(fake_postmark: FakePostmark) -> None:
    fake_postmark.script(Reply(200, b"<html>proxy says hi</html>"))
    sent = message()
    with pytest.raises(exceptions.UnexpectedAnswerError):
        sent.send()
    assert result(sent).status == "unknown"
