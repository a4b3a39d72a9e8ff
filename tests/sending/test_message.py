"""Address formatting and Postmark timestamps, the small pieces the payload is made of."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from postmark.api.timestamps import parse_timestamp
from postmark.exceptions import UnsupportedMessageError
from postmark.sending.addresses import format_address


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("a@example.com", "a@example.com"),
        ("Ann <a@example.com>", "Ann <a@example.com>"),
        (("Ann", "a@example.com"), "Ann <a@example.com>"),
        ('"Doe, Jane" <j@example.com>', '"Doe, Jane" <j@example.com>'),
        (('Say "hi"', "h@example.com"), '"Say \\"hi\\"" <h@example.com>'),
        ("Zoë <z@bücher.example>", "Zoë <z@xn--bcher-kva.example>"),
    ],
)
def test_format_address(given: str | tuple[str, str], expected: str) -> None:
    assert format_address(given) == expected


@pytest.mark.parametrize("bad", ["", "nobody", "a@example.com, b@example.com", "@example.com"])
def test_format_address_refuses_what_is_not_one_address(bad: str) -> None:
    with pytest.raises(UnsupportedMessageError):
        format_address(bad)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            "2026-11-27T10:11:12.1234567-04:00",
            datetime(2026, 11, 27, 10, 11, 12, 123456, tzinfo=timezone(timedelta(hours=-4))),
        ),
        ("2026-11-27T10:11:12Z", datetime(2026, 11, 27, 10, 11, 12, tzinfo=UTC)),
        ("2026-11-27T10:11:12", datetime(2026, 11, 27, 10, 11, 12, tzinfo=UTC)),
        ("", None),
        (None, None),
        ("yesterday", None),
    ],
)
def test_parse_timestamp(raw: object, expected: datetime | None) -> None:
    assert parse_timestamp(raw) == expected


def test_parse_timestamp_tolerates_spaces_and_lowercase_z() -> None:
    assert parse_timestamp(" 2026-11-27T10:11:12.12345678z ") == datetime(
        2026, 11, 27, 10, 11, 12, 123456, tzinfo=UTC
    )


@pytest.mark.parametrize(
    "recipient",
    [
        "a@example.com",
        "Ann <A@Example.com>",
        '"Doe, J" <j@x.org>',
        "  b@y.org ",
        "",
        "nobody",
        "(c) d@e.f",
    ],
)
def test_bare_address_agrees_with_parseaddr(recipient: str) -> None:
    from email.utils import parseaddr

    from postmark.sending.addresses import bare_address

    assert bare_address(recipient) == parseaddr(recipient)[1].lower()
