"""The "desk" mailbox of the worker tests: it writes a line to POSTMARK_TEST_MAILBOX_LOG when it
starts and when it ends each run, so the test sees every run in every process. Its subject
steers it: "block" waits until the file ``<log>.release`` exists (a worker to kill mid-run),
"flaky" raises until its third attempt."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from postmark.inbound import InboundMail, mailbox


def _log(line: str) -> None:
    with open(os.environ["POSTMARK_TEST_MAILBOX_LOG"], "a", encoding="utf-8") as log:
        log.write(line + "\n")


@mailbox("desk")
def desk(sender: Any, mail: InboundMail, **kwargs: Any) -> None:
    key, subject = mail.record.message_id, mail.event.subject
    _log(f"start {key}")
    if subject == "block":
        release = Path(os.environ["POSTMARK_TEST_MAILBOX_LOG"] + ".release")
        deadline = time.monotonic() + 60
        while not release.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
    if subject == "flaky" and mail.record.attempts < 3:
        raise RuntimeError(f"flaky, attempt {mail.record.attempts}")
    _log(f"done {key}")
