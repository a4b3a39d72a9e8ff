"""A ``requests`` session whose calls each have a deadline for the whole call.

requests' read timeout bounds each read from the socket, not the answer: a server that drips a
byte a second keeps a call with ``timeout=(2, 2)`` open for as long as it likes. Here every
connection tells the call it serves which socket it uses, and a watchdog shuts that socket down
when the call's deadline passes, whatever stage the call is at (headers or body). The current
deadline is a context variable, so each thread making calls at once has its own.

Why not the public API alone: a read timeout shrunk to the time left, and a streamed body read
against the clock, still leave the headers unbounded (http.client reads them a line at a time,
each read with the socket's timeout). Only the socket itself can be stopped mid-read, and
urllib3 hands it out only through its connection classes: ``HTTPConnectionPool.ConnectionCls``
and ``PoolManager.pool_classes_by_scheme``, both unchanged through urllib3 2.x. setup.cfg bounds
urllib3 to that range, and CI runs the client's tests on its lowest version as well.
tests/sending/test_whole_call_deadline.py shows what this protects against.
"""

from __future__ import annotations

import heapq
import itertools
import math
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool


class Deadline:
    """One call's deadline: the socket it uses is shut down once ``seconds`` have passed."""

    def __init__(self, seconds: float) -> None:
        self.at = time.monotonic() + seconds
        self.expired = False
        self.finished = False
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()

    def attach(self, sock: socket.socket | None) -> None:
        with self._lock:
            self._sock = sock
            expired = self.expired
        if expired:
            _shut(sock)

    def expire(self) -> None:
        with self._lock:
            if self.finished:
                return
            self.expired = True
            sock = self._sock
        _shut(sock)

    def finish(self) -> None:
        with self._lock:
            self.finished = True
            self._sock = None


def _shut(sock: socket.socket | None) -> None:
    if sock is not None:
        with suppress(OSError):  # already closed: nothing left to stop
            sock.shutdown(socket.SHUT_RDWR)


class _Watchdog:
    """One thread for every deadline of the process, asleep until the earliest one.

    A thread per call would cost a thread start per API call, and each start takes the GIL
    from the sending thread. Deadlines all run the same length, so a new one is almost never
    the earliest: the watchdog is woken only when it is.
    """

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._heap: list[tuple[float, int, Deadline]] = []
        self._thread: threading.Thread | None = None
        self._wake_at = math.inf
        self._count = itertools.count()

    def watch(self, limit: Deadline) -> None:
        with self._condition:
            heapq.heappush(self._heap, (limit.at, next(self._count), limit))
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="postmark-deadlines", daemon=True
                )
                self._thread.start()
            elif limit.at < self._wake_at:
                self._condition.notify()

    def _run(self) -> None:
        with self._condition:
            while True:
                now = time.monotonic()
                while self._heap and (self._heap[0][2].finished or self._heap[0][0] <= now):
                    _, _, limit = heapq.heappop(self._heap)
                    limit.expire()  # does nothing for a finished call
                self._wake_at = self._heap[0][0] if self._heap else math.inf
                self._condition.wait(None if not self._heap else self._wake_at - now)

    def reset_after_fork(self) -> None:
        # A forked worker (RQ's, for one) has none of its parent's threads.
        self.__init__()  # type: ignore[misc]


_WATCHDOG = _Watchdog()
os.register_at_fork(after_in_child=_WATCHDOG.reset_after_fork)
_CURRENT: ContextVar[Deadline | None] = ContextVar("postmark_deadline", default=None)


@contextmanager
def within(seconds: float) -> Iterator[Deadline]:
    """Bound the calls made in this block (on a ``session()``) to ``seconds`` in all."""
    limit = Deadline(seconds)
    token = _CURRENT.set(limit)
    _WATCHDOG.watch(limit)
    try:
        yield limit
    finally:
        limit.finish()
        _CURRENT.reset(token)


class _Guarded:
    """Mixed into urllib3's connections: hand the socket to the current call's deadline as soon
    as there is one (a reused connection has it before the request is written, a new one once
    connected), so that writing the request and reading the answer are both bounded."""

    sock: socket.socket | None

    def _attach(self) -> None:
        limit = _CURRENT.get()
        if limit is not None and self.sock is not None:
            limit.attach(self.sock)

    def connect(self) -> None:
        super().connect()  # type: ignore[misc]
        self._attach()

    def request(self, *args: Any, **kwargs: Any) -> None:
        self._attach()
        super().request(*args, **kwargs)  # type: ignore[misc]


class _GuardedHTTPConnection(_Guarded, HTTPConnection):
    pass


class _GuardedHTTPSConnection(_Guarded, HTTPSConnection):
    pass


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _GuardedHTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection


_POOLS = {"http": _HTTPPool, "https": _HTTPSPool}


class _Adapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOLS

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        # Through an HTTP(S) proxy the pools connect to the proxy (and tunnel for https): the
        # same classes guard them. A SOCKS proxy keeps its own connection classes.
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if not proxy.lower().startswith("socks"):
            manager.pool_classes_by_scheme = _POOLS
        return manager


def session() -> requests.Session:
    """A session whose connections obey ``within()``, directly or through an HTTP proxy."""
    result = requests.Session()
    adapter = _Adapter()
    result.mount("http://", adapter)
    result.mount("https://", adapter)
    return result
