"""The one rule for "safe to retry", and what it means for a message's status."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from postmark.api.spec import RETRYABLE_STATUSES
from postmark.exceptions import (
    NetworkError,
    UnexpectedAnswerError,
    api_error,
    is_safe_to_retry,
    may_have_been_sent,
    read_error_code,
)


@given(status=st.integers(400, 599), code=st.none() | st.integers(0, 2**31 - 1))
def test_only_429_and_503_answers_are_safe_to_retry(status: int, code: int | None) -> None:
    error = api_error(status, code, "no")
    assert is_safe_to_retry(error) is (status in RETRYABLE_STATUSES)
    # A 5xx other than 503 may come after Postmark took the message; a 4xx is a refusal.
    assert may_have_been_sent(error) is (status >= 500 and status not in RETRYABLE_STATUSES)


@given(sent=st.booleans())
def test_a_network_error_is_safe_to_retry_only_when_nothing_was_sent(sent: bool) -> None:
    error = NetworkError("down", may_have_been_sent=sent)
    assert (is_safe_to_retry(error), may_have_been_sent(error)) == (not sent, sent)


@given(status=st.integers(200, 399))
def test_an_unexpected_answer_or_a_redirect_may_have_been_sent(status: int) -> None:
    error = UnexpectedAnswerError("odd", http_status=status)
    assert (is_safe_to_retry(error), may_have_been_sent(error)) == (False, True)


@given(
    value=st.one_of(
        st.booleans(),
        st.floats(),
        st.integers().filter(lambda n: not 0 <= n < 2**31),
        st.text().filter(lambda text: not (text.isascii() and text.isdigit())),
        st.lists(st.integers(), max_size=2),
    )
)
def test_an_error_code_that_is_not_a_whole_number_fitting_a_column_is_unreadable(
    value: object,
) -> None:
    assert read_error_code(value) is None


@given(code=st.integers(0, 2**31 - 1))
def test_an_error_code_in_range_reads_as_itself(code: int) -> None:
    assert read_error_code(code) == read_error_code(str(code)) == code
