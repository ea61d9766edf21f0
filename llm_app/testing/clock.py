"""A clock for tests of the seam: pauses are recorded and skipped, never waited out."""

from __future__ import annotations

import asyncio
import time


class SkippingClock:
    """Real monotonic time, moved on by every pause it skipped.

    ``pauses`` lists the seconds the seam asked to sleep, in order, so a test
    asserts the backoff and the provider's ``Retry-After`` exactly instead of
    timing them. Skipped pauses still count in the reply's timings, as they
    would for a learner. ``sleep`` yields to the event loop once, like a real
    pause would.
    """

    def __init__(self) -> None:
        self.pauses: list[float] = []
        self._skipped = 0.0

    def monotonic(self) -> float:
        return time.monotonic() + self._skipped

    async def sleep(self, seconds: float) -> None:
        self.pauses.append(seconds)
        self._skipped += seconds
        await asyncio.sleep(0)
