"""The mailbox the worker processes of tests/inbound/test_workers.py run (an app, so that its
receiver is connected in every process that loads tests.settings_inbound_workers)."""
