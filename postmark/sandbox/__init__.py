"""A local stand-in for Postmark's API: ``python manage.py postmark_sandbox``, or in tests::

    with Sandbox(webhook_url="http://user:pass@127.0.0.1:8000/postmark/bounce/") as sandbox:
        settings.POSTMARK_API_URL = sandbox.url
        ...
        sandbox.wait_for_webhooks()

It answers like Postmark (validations, error codes, bounce testing, bounces and suppressions) and
POSTs the webhooks Postmark would. Standard library only; nothing leaves the machine.
"""

from .server import Sandbox

__all__ = ["Sandbox"]
