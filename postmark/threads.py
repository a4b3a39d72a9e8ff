"""Run a job over a list of items in a few threads, the results handled in the calling thread.

``postmark.sending`` posts a send's batches this way. Only the job runs in the threads; the
handling of each result (signals, the database) stays in the caller's thread, whose database
connection and transaction receivers expect. Items are handed out in order and never again once
the job's result for one of them says stop: the jobs already running finish and are handled.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Sequence
from queue import SimpleQueue
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class _Handout(Generic[T]):
    """The items not yet handed to a thread, and whether to hand out any more."""

    def __init__(self, items: Sequence[T]) -> None:
        self._pending = deque(items)
        self._stopped = False
        self._lock = threading.Lock()

    def take(self) -> tuple[T] | None:
        with self._lock:
            if self._stopped or not self._pending:
                return None
            return (self._pending.popleft(),)

    def stop(self) -> None:
        with self._lock:
            self._stopped = True

    def left(self) -> list[T]:
        with self._lock:
            return list(self._pending)


def in_threads(
    items: Sequence[T],
    job: Callable[[T], R],
    width: int,
    *,
    stops: Callable[[R], bool],
    handle: Callable[[T, R], None],
) -> list[T]:
    """Run ``job`` on the items in ``width`` threads; ``handle`` each result in this thread as
    it comes. Returns the items never handed out because a result ``stops`` the handout.

    An exception from ``job`` or ``handle`` also stops it; the jobs running are still finished
    and handled, then the first exception propagates.
    """
    handout = _Handout(items)
    finished: SimpleQueue[tuple[T, R] | BaseException | None] = SimpleQueue()

    def work() -> None:
        try:
            while (taken := handout.take()) is not None:
                result = job(taken[0])
                if stops(result):
                    # At once, in this thread: the caller may still be busy with an earlier
                    # result, and no new call may start meanwhile.
                    handout.stop()
                finished.put((taken[0], result))
        except BaseException as exc:  # handed to the caller, which re-raises it
            handout.stop()
            finished.put(exc)
        finally:
            finished.put(None)

    threads = [
        threading.Thread(target=work, name=f"postmark-call-{number}", daemon=True)
        for number in range(width)
    ]
    for thread in threads:
        thread.start()
    raised: BaseException | None = None
    running = width
    try:
        while running:
            outcome = finished.get()
            if outcome is None:
                running -= 1
            elif isinstance(outcome, BaseException):
                raised = raised or outcome
            else:
                try:
                    handle(*outcome)
                except Exception as exc:
                    handout.stop()
                    raised = raised or exc
    finally:
        handout.stop()  # an interrupt here: let the threads end after their current job
        for thread in threads:
            thread.join()
    if raised is not None:
        raise raised
    return handout.left()
