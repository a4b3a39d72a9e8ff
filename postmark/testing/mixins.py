"""The pytest fixtures for Django's (unittest) test cases: ``PostmarkSandboxMixin`` (the
``postmark_sandbox`` fixture) and ``PostmarkInboundMixin`` (the ``postmark_inbound`` one)."""

from __future__ import annotations

import unittest
from typing import TYPE_CHECKING, Any

from ..sandbox import Sandbox
from .sandbox import EMAIL_BACKEND, sandbox_for_tests

# The mixin's methods call TestCase methods; at run time it must stay a plain class, so that it
# can come before any TestCase in a test class's bases.
if TYPE_CHECKING:
    from .inbound_delivery import InboundDelivery

    _Base = unittest.TestCase
else:
    _Base = object


class PostmarkSandboxMixin(_Base):
    """Starts a sandbox before each test and stops it after; the app sends to it meanwhile.

    ::

        class SignupTests(PostmarkSandboxMixin, TestCase):
            def test_welcome_mail(self):
                ...
                [sent] = self.postmark_sandbox.messages
    """

    #: The EMAIL_BACKEND the app sends with during each test.
    postmark_email_backend = EMAIL_BACKEND
    postmark_sandbox: Sandbox

    def setUp(self) -> None:
        super().setUp()
        self.postmark_sandbox = self.enterContext(sandbox_for_tests(self.postmark_email_backend))


class PostmarkInboundMixin(_Base):
    """``deliver_inbound()``: inbound mail through the site's real inbound webhook, as Postmark
    posts it (``postmark.testing.inbound_delivery.InboundTestClient.deliver``: the same keywords).

    ::

        class SupportMailTests(PostmarkInboundMixin, TestCase):
            def test_a_reply_becomes_a_comment(self):
                delivery = self.deliver_inbound(to="reply+42@in.example.com", text="Thanks!")
                self.assertEqual(delivery.status_code, 200)
    """

    #: The inbound webhook's URL; None: the URL named ``postmark_inbound_hook``.
    postmark_inbound_url: str | None = None

    def deliver_inbound(self, **fields: Any) -> InboundDelivery:
        # Imported here, as in the pytest plugin: a module of tests may import this one early.
        from .inbound_delivery import InboundTestClient

        return InboundTestClient(self.postmark_inbound_url).deliver(**fields)
