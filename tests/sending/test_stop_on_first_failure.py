"""Several calls at once, whichever of them fail and whenever they end: once a failure has been
seen no call starts, every call that started counts (its result and its ``post_send``), and
every result is handled in the caller's thread.

The HTTP layer is replaced by a stand-in that takes as long as the example says, so that the
timings are the generated ones and not a loopback server's."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.core.mail import EmailMessage, get_connection
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from postmark import signals
from postmark.client import HTTPClient
from postmark.exceptions import PostmarkError, api_error
from tests.support.fake_postmark import accepted

pytestmark = pytest.mark.django_db

BATCH = 2  # messages per call (POSTMARK_BATCH_SIZE)


@dataclass
class Script:
    """What each call does (seconds it takes, whether Postmark refuses it, seconds its
    ``post_send`` takes here), and a log of what happened, in order: ("start", call),
    ("handled", call, failed, thread)."""

    calls: list[tuple[float, bool, float]]
    log: list[tuple[Any, ...]] = field(default_factory=list)
    now: int = 0
    peak: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        data = kwargs.get("data")
        payloads = json.loads(data) if data else kwargs["json_body"]
        call = int(payloads[0]["To"].split("@")[0][2:]) // BATCH
        seconds, fails, _ = self.calls[call]
        with self.lock:
            self.log.append(("start", call))
            self.now += 1
            self.peak = max(self.peak, self.now)
        try:
            time.sleep(seconds)
            if fails:
                raise api_error(422, 300, "Invalid email request")
            return [accepted(payload) for payload in payloads]
        finally:
            with self.lock:
                self.now -= 1

    def receiver(self) -> Callable[..., None]:
        def handled(sender: Any, messages: list[EmailMessage], **kwargs: Any) -> None:
            call = int(messages[0].to[0].split("@")[0][2:]) // BATCH
            failed = kwargs["exception"] is not None
            with self.lock:
                self.log.append(("handled", call, failed, threading.get_ident()))
            time.sleep(self.calls[call][2])  # this thread busy: the calls' threads go on

        return handled


def send(
    script: Script, settings: Any, monkeypatch: pytest.MonkeyPatch, width: int
) -> list[EmailMessage]:
    settings.POSTMARK_BATCH_SIZE = BATCH
    settings.POSTMARK_MAX_RETRIES = 0
    settings.POSTMARK_MAX_CONCURRENT_CALLS = width
    monkeypatch.setattr(HTTPClient, "request", script.request)
    handled = script.receiver()
    signals.post_send.connect(handled)
    batch = [
        EmailMessage("s", "b", "from@example.com", [f"to{n}@example.com"])
        for n in range(len(script.calls) * BATCH)
    ]
    try:
        if any(fails for _, fails, _ in script.calls):
            with pytest.raises(PostmarkError):
                get_connection().send_messages(batch)
        else:
            assert get_connection().send_messages(batch) == len(batch)
    finally:
        signals.post_send.disconnect(handled)
    return batch


@given(
    calls=st.lists(
        st.tuples(
            st.sampled_from([0.0, 0.002, 0.01, 0.03]),
            st.booleans(),
            st.sampled_from([0.0, 0.0, 0.02]),
        ),
        min_size=2,
        max_size=9,
    ),
    width=st.integers(min_value=2, max_value=4),
)
@hypothesis_settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_no_call_starts_after_a_failure_and_every_started_call_counts(
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
    calls: list[tuple[float, bool, float]],
    width: int,
) -> None:
    script = Script(calls)
    batch = send(script, settings, monkeypatch, width)

    starts = [entry[1] for entry in script.log if entry[0] == "start"]
    handlings = [entry for entry in script.log if entry[0] == "handled"]
    assert script.peak <= width
    # Results are handled here, once per call that started, each as its call said.
    assert {thread for *_, thread in handlings} == {threading.get_ident()}
    assert sorted(call for _, call, _, _ in handlings) == sorted(starts) == sorted(set(starts))
    for _, call, failed, _ in handlings:
        assert failed == calls[call][1]
        statuses = {m.postmark.status for m in batch[call * BATCH : (call + 1) * BATCH]}  # type: ignore[attr-defined]
        assert statuses == ({"failed"} if failed else {"sent"})
    # Nothing starts once a failure has been handled (it is seen before: in the call's thread).
    first_failure = next(
        (i for i, entry in enumerate(script.log) if entry[0] == "handled" and entry[2]), None
    )
    if first_failure is None:
        assert sorted(starts) == list(range(len(calls)))
        return
    assert all(entry[0] != "start" for entry in script.log[first_failure:])
    # The calls never started say so, and were never posted.
    for call in set(range(len(calls))) - set(starts):
        for message in batch[call * BATCH : (call + 1) * BATCH]:
            assert message.postmark.status == "failed"  # type: ignore[attr-defined]
            assert message.postmark.message.startswith("Not sent: the request for an earlier")  # type: ignore[attr-defined]


def test_a_failure_stops_the_calls_while_this_thread_is_busy_with_an_earlier_result(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two at once: call 0 ends at once and its post_send keeps this thread busy for 0.5 s;
    # its thread takes call 2 (0.3 s). Call 1 fails at 0.05 s: its thread takes nothing more,
    # and neither does call 2's when it ends, long before this thread looks at either.
    script = Script([(0.0, False, 0.5), (0.05, True, 0.0), (0.3, False, 0.0), (0.0, False, 0.0)])
    batch = send(script, settings, monkeypatch, width=2)
    assert sorted(entry[1] for entry in script.log if entry[0] == "start") == [0, 1, 2]
    assert [m.postmark.status for m in batch] == ["sent"] * 2 + ["failed"] * 2 + ["sent"] * 2 + [  # type: ignore[attr-defined]
        "failed"
    ] * 2
    assert batch[-1].postmark.message.startswith("Not sent")  # type: ignore[attr-defined]
