"""Faults on demand for the sending endpoints: the calls whose outcome a client cannot know.

A test (or ``PUT /sandbox/faults``) plans one fault per coming call of a sending endpoint
(``/email``, ``/email/batch``, their template forms, ``/email/bulk``), in order; a call with no
fault planned is answered as usual. Each fault is one of ``FAULTS``:

``accept-drop``  accepted (its messages sent), then the connection closed with no answer;
``accept-500``   accepted, then answered 500;
``accept-slow``  accepted, answered after ``slow_seconds`` (past the client's deadline);
``drop``         not accepted, the connection closed with no answer;
``500``          not accepted, answered 500;
``503``          not accepted, answered 503 (which a client may safely retry).

``None`` in a plan is a call answered as usual. ``applied`` counts the faults played; ``paths``
narrows the endpoints the plan is played on.

``index_delay`` is not a fault but the same kind of uncertainty: the seconds before a message
accepted shows in the Messages API's search (``messages_api``), which Postmark does not document.

``webhooks`` False withholds the webhooks of the messages a faulted call accepts, as on a server
with no webhook for them: nothing but the Messages API's search can then tell that they went (a
Delivery webhook names a message's id in its Metadata, and would settle it before any search).
"""

from __future__ import annotations

import json
import threading
from collections import Counter, deque
from collections.abc import Iterable
from typing import Any

from .routing import Answer
from .validation import Refusal

SENDING_PATHS = frozenset(
    ("/email", "/email/batch", "/email/withTemplate", "/email/batchWithTemplates", "/email/bulk")
)
#: The faults after which the request was processed (its messages accepted).
ACCEPTING = frozenset(("accept-drop", "accept-500", "accept-slow"))
FAULTS = ACCEPTING | {"drop", "500", "503"}
#: The faults that close the connection instead of answering.
DROPPING = frozenset(("accept-drop", "drop"))

_ANSWERS = {
    "500": Answer(500, {"ErrorCode": 500, "Message": "Internal Server Error (a sandbox fault)"}),
    "503": Answer(503, {"ErrorCode": 503, "Message": "Service Unavailable (a sandbox fault)"}),
}


class Faults:
    """The plan of faults, shared by the handler threads (one lock)."""

    def __init__(self, slow_seconds: float = 5.0, index_delay: float = 0.0) -> None:
        self.slow_seconds = slow_seconds
        self.index_delay = index_delay
        self.webhooks = True
        #: The sending endpoints the plan is played on; calls of the others are answered as
        #: usual (``{"/email/batch"}`` leaves one-message calls, such as settling's resends, be).
        self.paths: frozenset[str] = SENDING_PATHS
        self.applied: Counter[str] = Counter()
        self._planned: deque[str | None] = deque()
        self._lock = threading.Lock()
        # Set when the sandbox stops: a slow answer still waiting is let go at once.
        self.released = threading.Event()

    def plan(self, faults: Iterable[str | None]) -> None:
        """Add faults for the coming calls of the sending endpoints, in order."""
        planned = list(faults)
        unknown = [
            f for f in planned if f is not None and (not isinstance(f, str) or f not in FAULTS)
        ]
        if unknown:
            raise ValueError(f"Unknown fault {unknown[0]!r}; the faults are {sorted(FAULTS)}.")
        with self._lock:
            self._planned.extend(planned)

    def clear(self) -> None:
        with self._lock:
            self._planned.clear()

    @property
    def planned(self) -> list[str | None]:
        with self._lock:
            return list(self._planned)

    def take(self, method: str, path: str) -> str | None:
        """The fault for this call, if it is a sending call and one is planned for it."""
        if method != "POST" or path.rstrip("/") not in self.paths:
            return None
        with self._lock:
            fault = self._planned.popleft() if self._planned else None
            if fault is not None:
                self.applied[fault] += 1
            return fault

    def withholds_webhooks(self, fault: str | None) -> bool:
        """Whether the messages this call accepts go without their webhooks (``webhooks``)."""
        return fault in ACCEPTING and not self.webhooks

    def answer_for(self, fault: str, answer: Answer | None) -> Answer | None:
        """What a fault makes of the call's ``answer`` (None when it was not processed): the
        answer late, an error in its place, or None for no answer at all."""
        if fault == "accept-slow" and answer is not None:
            self.released.wait(self.slow_seconds)
            return answer
        if fault in DROPPING:
            return None
        return _ANSWERS["500" if fault == "accept-500" else fault]

    # --- The HTTP control (``GET``/``PUT /sandbox/faults``) ------------------------------------

    def control(self, method: str, body: bytes) -> Answer:
        """``GET /sandbox/faults`` reads the plan; ``PUT`` changes it (``configure``)."""
        try:
            if method == "PUT":
                self.configure(_json(body))
        except Refusal as refusal:
            return Answer.refusal(refusal)
        return Answer(200, self.as_json())

    def as_json(self) -> dict[str, Any]:
        return {
            "Faults": self.planned,
            "SlowSeconds": self.slow_seconds,
            "IndexDelay": self.index_delay,
            "Webhooks": self.webhooks,
            "Applied": dict(self.applied),
        }

    def configure(self, body: Any) -> None:
        """``{"Faults": [...], "SlowSeconds": n, "IndexDelay": n, "Webhooks": bool}``: the plan
        replaced by ``Faults`` (each a name of ``FAULTS`` or null), the delays and ``webhooks``
        set; what is left out stays. Refused whole (``Refusal``) when any part is wrong."""
        if not isinstance(body, dict):
            raise Refusal(402, 'Expected {"Faults": [...], "SlowSeconds": ..., "IndexDelay": ...}')
        slow = _seconds(body.get("SlowSeconds", self.slow_seconds), "SlowSeconds")
        delay = _seconds(body.get("IndexDelay", self.index_delay), "IndexDelay")
        webhooks = body.get("Webhooks", self.webhooks)
        if not isinstance(webhooks, bool):
            raise Refusal(403, "'Webhooks' must be true or false.")
        faults = body.get("Faults", None)
        if faults is not None and (
            not isinstance(faults, list) or not all(f is None or _known(f) for f in faults)
        ):
            raise Refusal(403, f"'Faults' must be a list of {sorted(FAULTS)} (or null).")
        self.slow_seconds, self.index_delay, self.webhooks = slow, delay, webhooks
        if faults is not None:
            with self._lock:
                self._planned = deque(faults)


def _json(body: bytes) -> Any:
    try:
        return json.loads(body or b"{}")
    except ValueError:
        raise Refusal(402, "Received invalid JSON input.") from None


def _known(fault: object) -> bool:
    return isinstance(fault, str) and fault in FAULTS  # a list from JSON is not hashable


def _seconds(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 3600:
        raise Refusal(403, f"'{name}' must be a number of seconds from 0 to 3600.")
    return float(value)
