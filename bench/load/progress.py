"""Progress lines on stderr, each with the seconds since the benchmark started."""

from __future__ import annotations

import sys
import time

_started = time.monotonic()


def elapsed() -> float:
    return time.monotonic() - _started


def log(message: str) -> None:
    print(f"  [{elapsed():5.0f}s] {message}", file=sys.stderr, flush=True)
