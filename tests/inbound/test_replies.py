"""Signed reply addresses (``postmark.inbound.replies``): made for any object, resolved back to
it in any case, refused once changed, expired or signed with a retired key, and always short
enough for a local part."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.contrib.sessions.models import Session
from django.core.exceptions import ImproperlyConfigured
from django.core.mail import EmailMessage
from django.db.models import Model
from django.test import override_settings
from django.utils import timezone
from freezegun import freeze_time
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase

from postmark.inbound.replies import (
    MAX_LOCAL_PART,
    BadReplyAddress,
    ReplyProblem,
    reply_address,
    resolve_reply,
    set_reply_address,
)
from postmark.models import Message, Overview, QueuedBatch
from postmark.sandbox import Sandbox

DOMAIN = "reply.example.com"
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _inbound_domain(settings: Any) -> None:
    settings.POSTMARK_INBOUND_DOMAIN = DOMAIN


def token_of(address: str) -> str:
    return address.partition("@")[0].partition("+")[2]


def saved(kind: str) -> Model:
    """An object of a model whose primary key is an integer, a UUID or text."""
    if kind == "int":
        return Group.objects.create(name=f"editors {uuid.uuid4()}")
    if kind == "uuid":
        return QueuedBatch.objects.create(id=uuid.uuid4(), state="pending")
    return Session.objects.create(
        session_key="s3ss10n", session_data="", expire_date=timezone.now() + timedelta(days=1)
    )


@pytest.mark.parametrize("kind", ["int", "uuid", "text"])
def test_a_reply_address_resolves_to_the_object_it_was_made_for(kind: str) -> None:
    obj = saved(kind)
    address = reply_address(obj)
    found = resolve_reply(address)
    assert type(found) is type(obj) and found.pk == obj.pk


def test_the_address_is_prefix_plus_a_lowercase_base32_token_at_the_inbound_domain() -> None:
    address = reply_address(saved("uuid"))
    assert re.fullmatch(rf"reply\+[a-z2-7]+@{re.escape(DOMAIN)}", address), address
    assert reply_address(saved("int"), domain="in.example.org", prefix="comments").startswith(
        "comments+"
    )


def test_the_mailbox_hash_alone_and_an_address_with_a_display_name_resolve() -> None:
    group = saved("int")
    address = reply_address(group)
    assert resolve_reply(token_of(address)) == group
    assert resolve_reply(f'"Editors" <{address}>') == group


def test_a_proxy_models_object_comes_back_as_that_proxy() -> None:
    row = Message.objects.create(subject="Hello")
    found = resolve_reply(reply_address(Overview.objects.get(pk=row.pk)))
    assert type(found) is Overview and found.pk == row.pk


def test_an_address_for_a_deleted_object_is_refused_as_gone() -> None:
    group = saved("int")
    address = reply_address(group)
    group.delete()
    with pytest.raises(BadReplyAddress) as caught:
        resolve_reply(address)
    assert caught.value.reason == ReplyProblem.GONE


def test_an_address_for_another_model_is_refused_when_a_model_is_asked_for() -> None:
    group = saved("int")
    assert resolve_reply(reply_address(group), model=(Message, Group)) == group
    with pytest.raises(BadReplyAddress) as caught:
        resolve_reply(reply_address(group), model=Message)
    assert caught.value.reason == ReplyProblem.WRONG_MODEL


# --- Expiry ---------------------------------------------------------------------------------


def test_an_address_resolves_until_its_max_age_and_not_a_second_after() -> None:
    group = saved("int")
    with freeze_time("2031-05-01 12:00:00") as clock:
        address = reply_address(group, max_age=timedelta(hours=1))
        clock.tick(3600)
        assert resolve_reply(address) == group
        clock.tick(1)
        with pytest.raises(BadReplyAddress) as caught:
            resolve_reply(address)
    assert caught.value.reason == ReplyProblem.EXPIRED


def test_the_default_max_age_is_the_setting_in_seconds_or_as_a_timedelta(settings: Any) -> None:
    group = saved("int")
    for setting in (86400, timedelta(days=1)):
        settings.POSTMARK_REPLY_MAX_AGE = setting
        with freeze_time("2031-05-01 12:00:00") as clock:
            address = reply_address(group)
            clock.tick(86400)
            assert resolve_reply(address) == group
            clock.tick(1)
            with pytest.raises(BadReplyAddress, match="expired"):
                resolve_reply(address)


def test_thirty_days_is_the_default_max_age() -> None:
    group = saved("int")
    with freeze_time("2031-05-01 12:00:00") as clock:
        address = reply_address(group)
        clock.tick(timedelta(days=30))
        assert resolve_reply(address) == group
        clock.tick(1)
        with pytest.raises(BadReplyAddress, match="expired"):
            resolve_reply(address)


@pytest.mark.parametrize("bad", [0, -5, timedelta(0), float("inf"), "30 days", True])
def test_a_bad_max_age_setting_is_improperly_configured_naming_it(bad: Any, settings: Any) -> None:
    settings.POSTMARK_REPLY_MAX_AGE = bad
    with pytest.raises(ImproperlyConfigured, match="POSTMARK_REPLY_MAX_AGE"):
        reply_address(saved("int"))
    with pytest.raises(ValueError, match="max_age"):
        reply_address(saved("int"), max_age=bad)


# --- Keys -----------------------------------------------------------------------------------


def test_a_rotated_key_keeps_old_addresses_working_while_it_is_a_fallback() -> None:
    group = saved("int")
    with override_settings(SECRET_KEY="the-old-key-" * 4):
        old = reply_address(group)
    with override_settings(
        SECRET_KEY="the-new-key-" * 4, SECRET_KEY_FALLBACKS=["the-old-key-" * 4]
    ):
        assert resolve_reply(old) == group
        new = reply_address(group)
    with override_settings(SECRET_KEY="the-new-key-" * 4, SECRET_KEY_FALLBACKS=[]):
        assert resolve_reply(new) == group  # made with the new key, not the fallback
        with pytest.raises(BadReplyAddress) as caught:
            resolve_reply(old)
    assert caught.value.reason == ReplyProblem.TAMPERED


# --- Case, length, the settings ---------------------------------------------------------------


class CaseAndLength(TestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        cls.group = Group.objects.create(name="readers")

    @override_settings(POSTMARK_INBOUND_DOMAIN=DOMAIN)
    @given(st.lists(st.booleans(), min_size=80, max_size=80))
    def test_an_address_whose_case_a_mail_system_changed_still_resolves(
        self, upper: list[bool]
    ) -> None:
        address = reply_address(self.group)
        changed = "".join(c.upper() if up else c for c, up in zip(address, upper, strict=False))
        assert resolve_reply(changed) == self.group
        assert resolve_reply(token_of(changed)) == self.group

    @override_settings(POSTMARK_INBOUND_DOMAIN=DOMAIN)
    @given(
        st.one_of(
            st.tuples(
                st.builds(lambda n: Message(pk=n), st.integers(-(2**63), 2**63 - 1)), st.just(46)
            ),
            st.tuples(st.builds(lambda u: QueuedBatch(pk=u), st.uuids()), st.just(59)),
            st.tuples(
                st.builds(lambda key: Session(pk=key), st.text("abcdef0123456789", max_size=20)),
                st.just(MAX_LOCAL_PART),
            ),
        ),
        st.timedeltas(min_value=timedelta(seconds=1), max_value=timedelta(days=365 * 200)),
    )
    def test_the_local_part_fits_in_64_characters_for_integer_uuid_and_short_text_keys(
        self, case: tuple[Model, int], max_age: timedelta
    ) -> None:
        obj, documented = case  # docs/inbound.rst gives the bounds for integers and UUIDs
        local = reply_address(obj, max_age=max_age).partition("@")[0]
        assert len(local) <= documented <= MAX_LOCAL_PART


def test_a_key_or_prefix_too_long_for_a_local_part_is_a_value_error_not_a_long_address() -> None:
    with pytest.raises(ValueError, match="at most 64"):
        reply_address(Session(pk="k" * 40))  # a real session key
    with pytest.raises(ValueError, match="at most 64"):
        reply_address(saved("uuid"), prefix="x" * 20)


@pytest.mark.parametrize("prefix", ["", "a+b", "a b", "a@b", ".a", "a\r\nBcc: x"])
def test_a_prefix_that_is_not_a_plain_local_part_is_refused(prefix: str) -> None:
    with pytest.raises(ValueError, match="prefix"):
        reply_address(saved("int"), prefix=prefix)


def test_an_unsaved_object_has_no_reply_address() -> None:
    with pytest.raises(ValueError, match="save it"):
        reply_address(Group(name="new"))


def test_without_an_inbound_domain_the_setting_is_named(settings: Any) -> None:
    settings.POSTMARK_INBOUND_DOMAIN = None
    with pytest.raises(ImproperlyConfigured, match="POSTMARK_INBOUND_DOMAIN"):
        reply_address(saved("int"))
    assert reply_address(saved("int"), domain="in.example.org").endswith("@in.example.org")
    with pytest.raises(ValueError, match="domain"):
        reply_address(saved("int"), domain="in.example.org\r\nBcc: x@y")


def test_an_international_inbound_domain_is_written_in_idna() -> None:
    assert reply_address(saved("int"), domain="antwort.bücher.de").endswith(
        "@antwort.xn--bcher-kva.de"
    )


# --- Tampering ------------------------------------------------------------------------------


class Tampering(TestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        cls.batch = QueuedBatch.objects.create(id=uuid.uuid4(), state="pending")

    def setUp(self) -> None:
        with override_settings(POSTMARK_INBOUND_DOMAIN=DOMAIN):
            self.address = reply_address(self.batch)
        self.token = token_of(self.address)

    def refused(self, value: Any) -> ReplyProblem:
        with pytest.raises(BadReplyAddress) as caught:
            resolve_reply(value)
        return caught.value.reason

    @given(st.data())
    def test_any_single_character_changed_added_or_removed_in_the_token_is_refused(
        self, data: st.DataObject
    ) -> None:
        token = self.token
        at = data.draw(st.integers(0, len(token) - 1))
        edit = data.draw(st.sampled_from(["replace", "insert", "delete"]))
        char = data.draw(st.characters().filter(lambda c: c.lower() != token[at]))
        if edit == "replace":
            changed = token[:at] + char + token[at + 1 :]
        elif edit == "insert":
            changed = token[:at] + char + token[at:]
        else:
            changed = token[:at] + token[at + 1 :]
        assert self.refused(changed) in (ReplyProblem.MALFORMED, ReplyProblem.TAMPERED)
        assert self.refused(f"reply+{changed}@{DOMAIN}") in (
            ReplyProblem.MALFORMED,
            ReplyProblem.TAMPERED,
        )

    def test_every_other_spelling_of_the_last_character_is_refused(self) -> None:
        # Its low bits are padding: only the one canonical spelling of the token resolves.
        head = self.token[:-1]
        for char in "abcdefghijklmnopqrstuvwxyz234567":
            if char != self.token[-1]:
                assert self.refused(head + char) in (ReplyProblem.MALFORMED, ReplyProblem.TAMPERED)

    @given(
        st.one_of(
            st.text(),
            st.text(max_size=2000).map(lambda text: f"reply+{text}@{DOMAIN}"),
            st.from_regex(r"[a-z2-7]{1,70}", fullmatch=True),
            st.binary(max_size=40).map(lambda raw: raw.hex()),
        )
    )
    def test_any_other_string_is_refused_with_bad_reply_address_and_nothing_else(
        self, value: str
    ) -> None:
        assert self.refused(value) in (ReplyProblem.MALFORMED, ReplyProblem.TAMPERED)

    def test_what_is_not_a_string_is_refused_as_malformed(self) -> None:
        for value in (None, 12, b"reply", ["x"]):
            assert self.refused(value) == ReplyProblem.MALFORMED


# --- In messages ----------------------------------------------------------------------------


def test_set_reply_address_makes_the_messages_reply_to_the_objects_address() -> None:
    group = saved("int")
    message = EmailMessage("Comment", "Reply to this email to comment.", to=["ann@example.com"])
    address = set_reply_address(message, group, name="Editors, Inc.")
    assert message.reply_to == [f'"Editors, Inc." <{address}>']
    assert message.message()["Reply-To"] == f'"Editors, Inc." <{address}>'


def test_a_reply_to_a_message_sent_through_postmark_resolves_to_its_object(
    postmark_sandbox: Sandbox,
) -> None:
    group = saved("int")
    message = EmailMessage("New comment", "Reply to this email to comment.", to=["a@example.com"])
    set_reply_address(message, group)
    message.send()
    [sent] = postmark_sandbox.messages
    assert resolve_reply(sent.payload["ReplyTo"].upper()) == group
