"""Django's contract for an email backend, part one: what a message holds arrives as its text.

As Django's own backend tests send them: lazy translation strings in the subject, the body and
every address; IDN domains (out in IDNA, "punycode", as Django's SMTP backend sends them); display
names outside ASCII, and names an address header must quote. Each class of input is generated.
"""

from __future__ import annotations

from collections.abc import Callable
from email.utils import getaddresses
from typing import Any

import django
from django.core import mail
from django.core.mail import EmailMessage
from django.utils.encoding import punycode
from django.utils.translation import gettext_lazy
from hypothesis import example, given
from hypothesis import strategies as st

from tests.support.contract_base import ContractBase
from tests.support.fake_postmark import FakePostmark
from tests.support.sending_strategies import (
    domains,
    examples,
    idn_domains,
    lazy_forms,
    local_parts,
    names,
    quoted,
    world_names,
)

#: A message's address attributes and the payload field each one arrives in.
ADDRESS_FIELDS = {"from_email": "From", "to": "To", "cc": "Cc", "bcc": "Bcc", "reply_to": "ReplyTo"}
Mailbox = tuple[str, str]  # (display name or "", address)


def address_fields(
    domain: st.SearchStrategy[str], name: st.SearchStrategy[str]
) -> st.SearchStrategy[dict[str, list[Mailbox]]]:
    mailbox = st.tuples(name, st.builds("{}@{}".format, local_parts, domain))
    return st.fixed_dictionaries(
        {
            "from_email": st.lists(mailbox, min_size=1, max_size=1),
            "to": st.lists(mailbox, min_size=1, max_size=2),
            "cc": st.lists(mailbox, max_size=2),
            "bcc": st.lists(mailbox, max_size=2),
            "reply_to": st.lists(mailbox, max_size=2),
        }
    )


def addressed(fields: dict[str, list[Mailbox]], wrap: Callable[[str], Any] = str) -> EmailMessage:
    """A message with these addresses, each written as Django takes it and passed to ``wrap``."""

    def written(name: str, address: str) -> Any:
        return wrap(quoted(name, address) if name else address)

    [sender] = fields["from_email"]
    lists = {key: [written(*box) for box in boxes] for key, boxes in fields.items()}
    del lists["from_email"]
    return EmailMessage(wrap("Subject"), wrap("Body"), written(*sender), **lists)


def assert_addresses_arrived(posted: dict[str, Any], fields: dict[str, list[Mailbox]]) -> None:
    """Each field holds its names and addresses, the domains as Django's SMTP backend sends them
    (IDNA, "punycode"): Postmark takes no other form of a domain outside ASCII."""
    for attribute, key in ADDRESS_FIELDS.items():
        expected = [
            (name, f"{local}@{punycode(domain)}")
            for name, (local, _, domain) in ((n, a.rpartition("@")) for n, a in fields[attribute])
        ]
        arrived = getaddresses([posted[key]]) if key in posted else []
        assert arrived == expected, key


class AddressContract(ContractBase):
    def test_lazy_translation_strings_go_out_as_their_text(
        self, fake_postmark: FakePostmark
    ) -> None:
        @examples(10)
        @given(
            wrap=lazy_forms,
            fields=address_fields(domains | idn_domains, st.just("") | world_names),
            subject=names,
            body=names.filter(bool),
        )
        def check(
            wrap: Callable[[str], Any], fields: dict[str, list[Mailbox]], subject: str, body: str
        ) -> None:
            self.reset(fake_postmark)
            message = addressed(fields, wrap)
            message.subject, message.body = wrap(subject), wrap(body)
            assert self.connection().send_messages([message]) == 1
            [posted] = self.posted(fake_postmark)
            assert (posted["Subject"], posted["TextBody"]) == (str(message.subject), body)
            assert_addresses_arrived(posted, fields)

        check()

    def test_mail_admins_and_managers_take_a_lazy_subject(
        self, fake_postmark: FakePostmark, settings: Any
    ) -> None:
        settings.EMAIL_BACKEND = self.backend
        # Django 6 takes addresses here and deprecates its 5.2 (name, address) pairs.
        people = ["n@example.com"] if django.VERSION >= (6,) else [("N", "n@example.com")]
        settings.ADMINS = settings.MANAGERS = people
        mail.mail_admins(gettext_lazy("Subject"), "Content", html_message="<p>Content</p>")
        mail.mail_managers(gettext_lazy("Subject"), "Content")
        posted = self.posted(fake_postmark)
        assert [(m["Subject"], m["To"], m.get("HtmlBody")) for m in posted] == [
            ("[Django] Subject", "n@example.com", "<p>Content</p>"),
            ("[Django] Subject", "n@example.com", None),
        ]
        # Nobody to tell: nothing is sent (Django's #9383).
        self.reset(fake_postmark)
        settings.ADMINS = settings.MANAGERS = []
        mail.mail_admins("hi", "there")
        mail.mail_managers("hi", "there")
        assert self.posted(fake_postmark) == []

    def test_idn_domains_go_out_in_punycode(self, fake_postmark: FakePostmark) -> None:
        @examples(10)
        @given(fields=address_fields(idn_domains, st.just("") | world_names))
        @example(fields={"from_email": [("", "from@öäü.com")], "to": [("", "to@öäü.com")]})
        def check(fields: dict[str, list[Mailbox]]) -> None:
            self.reset(fake_postmark)
            fields = {key: fields.get(key, []) for key in ADDRESS_FIELDS}
            assert self.connection().send_messages([addressed(fields)]) == 1
            [posted] = self.posted(fake_postmark)
            assert_addresses_arrived(posted, fields)

        check()
        self.reset(fake_postmark)
        assert mail.send_mail(
            "s", "b", "from@öäü.com", ["to@öäü.com"], connection=self.connection()
        )
        [posted] = self.posted(fake_postmark)
        assert (posted["From"], posted["To"]) == ("from@xn--4ca9at.com", "to@xn--4ca9at.com")

    def test_display_names_outside_ascii_arrive_intact(self, fake_postmark: FakePostmark) -> None:
        @examples(10)
        @given(
            fields=address_fields(domains, world_names),
            encoding=st.sampled_from([None, "utf-8", "iso-8859-1"]),
            sender_as_pair=st.booleans(),
        )
        def check(
            fields: dict[str, list[Mailbox]], encoding: str | None, sender_as_pair: bool
        ) -> None:
            self.reset(fake_postmark)
            message = addressed(fields)
            message.encoding = encoding
            if sender_as_pair:  # Django's own backends take a (name, address) pair here
                message.from_email = fields["from_email"][0]  # type: ignore[assignment]
            assert self.connection().send_messages([message]) == 1
            [posted] = self.posted(fake_postmark)
            assert_addresses_arrived(posted, fields)

        check()
