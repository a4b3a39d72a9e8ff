"""The sandbox answers a From no Postmark account can send from as Postmark does: ErrorCode 400
("not a Sender Signature"), as docs/getting-started.rst says of Django's default sender. Broken
syntax stays 300."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
from django.core.mail import send_mail
from hypothesis import given
from hypothesis import strategies as st

from postmark.api.spec import ERROR_SENDER_SIGNATURE_NOT_FOUND
from postmark.exceptions import InvalidRequestError
from postmark.sandbox import Sandbox
from tests.support.sending_strategies import examples

pytestmark = pytest.mark.django_db

label = st.from_regex(r"[a-z](?:[a-z0-9-]{0,14}[a-z0-9])?", fullmatch=True)
local_part = st.from_regex(r"[a-z0-9][a-z0-9._+-]{0,15}", fullmatch=True)
named = st.sampled_from(["{}", "Site <{}>", '"Shop, Inc." <{}>'])
#: Valid RFC 5322 senders on a domain that no account can verify or confirm.
unconfirmable = st.builds(
    lambda form, address: form.format(address),
    named,
    st.one_of(
        st.just("webmaster@localhost"),  # Django's DEFAULT_FROM_EMAIL
        st.just("root@localhost"),  # Django's SERVER_EMAIL
        st.builds("{}@{}".format, local_part, label),
        st.builds("{}@{}.localhost".format, local_part, label),
        st.builds("{}@LocalHost".format, local_part),
    ),
)
broken = st.one_of(local_part, st.builds("{}@".format, local_part), st.builds("@{}".format, label))
confirmable = st.builds(
    lambda form, *parts: form.format("{}@{}.{}".format(*parts)),
    named,
    local_part,
    label,
    st.sampled_from(["com", "example", "co.uk"]),
)


def send(sandbox: Sandbox, sender: str) -> requests.Response:
    body = {"From": sender, "To": "bob@example.com", "TextBody": "Hi"}
    return requests.post(
        sandbox.url + "/email",
        data=json.dumps(body),
        headers={"Content-Type": "application/json", "X-Postmark-Server-Token": "server-token"},
        timeout=10,
    )


def answer(response: requests.Response) -> tuple[int, int, str]:
    body: dict[str, Any] = response.json()
    return response.status_code, body["ErrorCode"], body["Message"]


def test_djangos_default_sender_is_not_a_sender_signature(postmark_sandbox: Sandbox) -> None:
    status, code, text = answer(send(postmark_sandbox, "webmaster@localhost"))
    assert (status, code) == (422, 400) == (422, ERROR_SENDER_SIGNATURE_NOT_FOUND)
    assert text.startswith(
        "The 'From' address you supplied (webmaster@localhost) is not a Sender Signature on "
        "your account."
    )
    assert postmark_sandbox.messages == []


@examples(30)
@given(sender=unconfirmable)
def test_a_sender_no_account_can_confirm_is_error_400(
    postmark_sandbox: Sandbox, sender: str
) -> None:
    status, code, text = answer(send(postmark_sandbox, sender))
    assert (status, code) == (422, 400), (sender, text)
    assert f"({sender})" in text


@examples(30)
@given(sender=broken)
def test_a_sender_that_is_not_an_address_is_still_error_300(
    postmark_sandbox: Sandbox, sender: str
) -> None:
    assert answer(send(postmark_sandbox, sender))[:2] == (422, 300), sender


@examples(30)
@given(sender=confirmable)
def test_a_sender_on_a_public_domain_is_taken(postmark_sandbox: Sandbox, sender: str) -> None:
    assert send(postmark_sandbox, sender).status_code == 200, sender


def test_the_backend_reports_it_with_postmarks_code(postmark_sandbox: Sandbox) -> None:
    with pytest.raises(InvalidRequestError, match="is not a Sender Signature") as refused:
        send_mail("Hi", "Body", "webmaster@localhost", ["bob@example.com"])
    assert (refused.value.error_code, refused.value.http_status) == (400, 422)
