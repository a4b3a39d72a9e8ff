"""Settings for the worker processes of tests/inbound/test_workers.py (and the processes that
post inbound mail for them): tests.settings_workers with inbound mail routed to the "desk"
mailbox of tests.inbound.worker_app, which logs its runs to POSTMARK_TEST_MAILBOX_LOG."""

from __future__ import annotations

import os

from .settings_workers import *  # noqa: F403
from .settings_workers import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "tests.inbound.worker_app"]
POSTMARK_INBOUND_ROUTES = [{"mailbox": "desk"}]
POSTMARK_INBOUND_RETRY_DELAY = float(os.environ.get("POSTMARK_INBOUND_RETRY_DELAY", "0.2"))
