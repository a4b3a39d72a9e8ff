"""``PostmarkSandboxMixin``: the ``postmark_sandbox`` fixture for Django's (unittest) test cases."""

from __future__ import annotations

import unittest
from typing import TYPE_CHECKING

from ..sandbox import Sandbox
from .sandbox import EMAIL_BACKEND, sandbox_for_tests

# The mixin's methods call TestCase methods; at run time it must stay a plain class, so that it
# can come before any TestCase in a test class's bases.
if TYPE_CHECKING:
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
