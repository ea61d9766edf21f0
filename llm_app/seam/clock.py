"""The time the seam reads and the pauses it takes, in one object tests can replace.

The seam times replies with :meth:`Clock.monotonic` and waits between retries
with :meth:`Clock.sleep`, both through :data:`current`, so a test swaps in a
clock that records the pauses asked for instead of waiting them out
(``llm_app.testing.clock.SkippingClock``). Timeouts are ``asyncio`` deadlines on the
event loop's own clock and stay real.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol


class Clock(Protocol):
    def monotonic(self) -> float:
        """Seconds on a clock that never goes back; only differences mean anything."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Pause the calling task for ``seconds``."""
        ...


class SystemClock:
    """Real time: ``time.monotonic`` and ``asyncio.sleep``."""

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


# The clock every turn reads, looked up at the start of each turn.
current: Clock = SystemClock()
