"""How a cost grows with its input: CPU time at two sizes, compared as a ratio taken in one run.

A ratio measured on the same machine in the same second does not flake the way an absolute
threshold does: a linear cost grows about 8 times from n to 8n (bounds leave room for noise),
a quadratic one 64 times, a cubic one 512 times. A watchdog turns a cost that would run for
hours on code that regressed into a failure after ``WATCHDOG_SECONDS``.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

#: Long enough never to stop a linear cost on a loaded machine (they take milliseconds).
WATCHDOG_SECONDS = 60
_LEAST_SAMPLE = 0.02  # seconds of CPU a measurement runs for, far above the clock's resolution


@contextmanager
def watchdog(what: str, seconds: int = WATCHDOG_SECONDS) -> Iterator[None]:
    def stop(signum: int, frame: FrameType | None) -> None:
        raise AssertionError(f"{what} ran for over {seconds} s: its cost is not linear")

    previous = signal.signal(signal.SIGALRM, stop)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def cpu_seconds(call: Callable[[], object], repeats: int = 3) -> float:
    """The least CPU time one ``call`` takes, over ``repeats`` measurements (each calls it until
    20 ms have passed, and divides)."""
    best = float("inf")
    for _ in range(repeats):
        calls, start = 0, time.process_time()
        while True:
            call()
            calls += 1
            spent = time.process_time() - start
            if spent >= _LEAST_SAMPLE:
                break
        best = min(best, spent / calls)
    return best


def growth(make_call: Callable[[int], Callable[[], object]], n: int, factor: int = 8) -> float:
    """``cost(factor * n) / cost(n)``, where ``make_call(size)`` prepares a call of that size
    (outside the measurement)."""
    with watchdog(f"the call at size {n}"):
        small = cpu_seconds(make_call(n))
    with watchdog(f"the call at size {factor * n}"):
        large = cpu_seconds(make_call(factor * n))
    return large / small
