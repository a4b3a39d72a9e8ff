"""Ports for the servers the tests start in other processes (the demo, ``postmark_sandbox``).

A port the kernel picks for a bind to port 0 and that is then released is free only until the
next such bind: in a suite (or two suites side by side) where every ``Sandbox`` and fake server
binds port 0, one of them could take it before the child process binds it, and the child then
fails with "port taken". Ports drawn below the kernel's ephemeral range are never handed out by
a bind to port 0, so only another draw could meet them, and a draw is random and checked free.
"""

from __future__ import annotations

import random
import socket
from pathlib import Path

#: Linux's default ephemeral range, for a system that does not say its own.
DEFAULT_EPHEMERAL = (32768, 60999)
#: How far below the ephemeral range ports are drawn from.
SPAN = 12000


def ephemeral_range() -> tuple[int, int]:
    """The ports the kernel hands out for a bind to port 0."""
    try:
        text = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text()
        low, high = (int(part) for part in text.split())
    except (OSError, ValueError):
        return DEFAULT_EPHEMERAL
    return low, high


def free_port() -> int:
    """A loopback TCP port that nothing is bound to, outside the ephemeral range."""
    low, _ = ephemeral_range()
    draw = random.SystemRandom()
    for _ in range(200):
        port = draw.randrange(max(1024, low - SPAN), low)
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"No free port below {low} after 200 draws.")
