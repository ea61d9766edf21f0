"""A turn's fair share of the event loop, and how busy the loop is.

When the process is busy, a provider's chunks pile up in its socket and LiteLLM
reads them from the buffer without ever waiting, so one turn's step would take
all its piled-up chunks, tens of milliseconds, while every other task of the
process waited behind it: a new turn on its way to its first token, a socket
being let in, a stop. So a turn gives the loop back after each chunk.

How long the loop takes to come back is how busy the process is, a measure that
costs nothing more: the text frames of every turn are spaced by it (``text_frames``), so
that under load a frame carries several chunks instead of each chunk costing a
frame on every socket that follows the turn.
"""

from __future__ import annotations

import asyncio

from lessons_app.tutor.clock import Clock

# How far one measurement moves the estimate (an exponential moving average): a
# few dozen chunks of every turn make it, one slow step does not.
SMOOTHING = 0.1


class LoopShare:
    """One per process (the turn runner's), shared by its turns."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        # Seconds the loop takes to come back to a turn that gave way: ~0 when idle.
        self.lag = 0.0

    async def give_way(self) -> None:
        """Let every other task that is ready run once, and note how long that took."""
        before = self._clock.monotonic()
        await asyncio.sleep(0)
        self.lag += SMOOTHING * (self._clock.monotonic() - before - self.lag)
