"""PostmarkBackend keeps the contract every backend of this app keeps."""

from __future__ import annotations

from tests.support.backend_contract import BackendContract


class TestPostmarkBackend(BackendContract):
    backend = "postmark.backends.PostmarkBackend"
