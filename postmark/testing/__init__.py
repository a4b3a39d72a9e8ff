"""Helpers for your own test suite (see README, "Testing your own code").

- ``postmark.testing.pytest_plugin``: the ``postmark_sandbox`` and ``postmark_inbound``
  fixtures; pytest loads it by itself wherever django-postmark is installed.
- ``postmark.testing.mixins``: ``PostmarkSandboxMixin`` and ``PostmarkInboundMixin``, the same
  for Django's (unittest) test cases.
- ``postmark.testing.inbound_delivery``: inbound mail posted to the site's real inbound webhook,
  as Postmark posts it (what the fixture and the mixin use).
- ``postmark.testing.backend.PostmarkTestBackend``: an EMAIL_BACKEND that keeps each message, with
  the payload Postmark would have received, in ``django.core.mail.outbox``.

Each module imports only what it needs, so that loading the plugin costs a pytest run little.
"""
