"""What ``event.message`` of inbound mail costs to build and render, by the size of the payload:
the shapes issue 17 measured (10,000 ``ToFull`` addresses took 1.2 s; a ``RawEmail`` with 40,000
To addresses 19 s), and headers of encoded words without their end.

    python tests/benchmarks/bench_inbound.py

CPU seconds (the least of three runs) at each size, and the growth from one size to the next:
linear up to the message's limits (``postmark.events.mail``), flat past them.
"""

from __future__ import annotations

import itertools
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SIZES = [1_000, 10_000, 40_000]


def shapes() -> dict[str, Callable[[int], dict[str, Any]]]:
    from tests.support import inbound_mail

    def to_full(n: int) -> dict[str, Any]:
        people = [{"Email": f"u{i}@example.com", "Name": f"User {i}"} for i in range(n)]
        return {"ToFull": people}

    def raw_to(n: int) -> dict[str, Any]:
        header = ", ".join(f"u{i}@example.com" for i in range(n))
        return {"RawEmail": inbound_mail.raw_email({"To": header})}

    def encoded_words(n: int) -> dict[str, Any]:
        return {"RawEmail": inbound_mail.raw_email({"X-Words": "=?utf-8?q?w " * n})}

    return {"ToFull": to_full, "RawEmail To": raw_to, "encoded words": encoded_words}


def cost(payload: dict[str, Any]) -> float:
    from postmark import events

    best = float("inf")
    for _ in range(3):
        event = events.parse(payload, inbound=True)
        start = time.process_time()
        event.message.message().as_bytes()  # type: ignore[union-attr]
        best = min(best, time.process_time() - start)
    return best


def main() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    import django

    django.setup()
    from tests.support import webhook_payloads as payloads

    print("bench_inbound: CPU seconds to build and render event.message")
    for name, make in shapes().items():
        costs = [cost(payloads.inbound(**make(size))) for size in SIZES]
        cells = [f"{size:,}: {seconds:.3f} s" for size, seconds in zip(SIZES, costs, strict=True)]
        growth = [f"x{later / earlier:.1f}" for earlier, later in itertools.pairwise(costs)]
        print(f"  {name:14} {'  '.join(cells)}   growth {' '.join(growth)}")


if __name__ == "__main__":
    main()
