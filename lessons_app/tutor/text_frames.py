"""A reply's text frames, at most one per ``TUTOR_TEXT_FRAME_SECONDS``: chunks that come
faster are joined.

Providers stream many small chunks (often 20 ms apart), and each frame costs the
server a log entry, a Redis write and a send on every socket that follows the
turn, and the browser a repaint. A learner reads no faster at 50 frames a second
than at 25. So the first text goes out at once, so does any chunk that comes after
a quiet spell, and chunks that come sooner after the last frame wait, at most
until the interval has passed (or until the turn sends anything else), and go
out as one frame.

Under load the interval widens with the loop's lag (``loop_share``): when the
process takes 200 ms to come back to a turn, its chunks reach it 200 ms apart
and would each go as a frame of their own, the costliest way to send them just
when the process has least to spare. Frames are then ``LAG_MULTIPLE`` lags
apart, a few chunks each, and never more than ``SLOWEST_SECONDS``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from lessons_app.tutor.clock import Clock
from lessons_app.tutor.loop_share import LoopShare

# Under load, frames at least this many loop lags apart: a few chunks in each.
LAG_MULTIPLE = 4
# However busy the process, the text moves at least this often.
SLOWEST_SECONDS = 1.0


class TextFrames:
    def __init__(
        self,
        interval: float,
        clock: Clock,
        send: Callable[[str], None],
        loop_share: LoopShare,
    ) -> None:
        self._base_interval = interval
        self._clock = clock
        self._send = send
        self._loop_share = loop_share
        self._waiting: list[str] = []
        self._last_sent_at: float | None = None
        self._timer: asyncio.Task | None = None

    def add(self, text: str) -> None:
        """One chunk of the reply's text: sent now, or with the next frame."""
        self._waiting.append(text)
        now = self._clock.monotonic()
        interval = self.interval
        if self._last_sent_at is None or now - self._last_sent_at >= interval:
            self.flush()
        elif self._timer is None:
            due = self._last_sent_at + interval
            self._timer = asyncio.get_running_loop().create_task(self._flush_at(due))

    @property
    def interval(self) -> float:
        """The shortest time between two frames now: the setting's, or wider under load."""
        if not self._base_interval:
            return 0.0  # every chunk goes as it comes, whatever the load
        under_load = min(LAG_MULTIPLE * self._loop_share.lag, SLOWEST_SECONDS)
        return max(self._base_interval, under_load)

    def flush(self) -> None:
        """Send what is waiting (before any other frame of the turn, and at its end)."""
        self._cancel_timer()
        if not self._waiting:
            return
        text, self._waiting = "".join(self._waiting), []
        self._last_sent_at = self._clock.monotonic()
        self._send(text)

    def close(self) -> None:
        """The turn has ended: nothing more will be sent."""
        self._cancel_timer()
        self._waiting = []

    async def _flush_at(self, due: float) -> None:
        # From when the task runs, which may be a little after it was set.
        await self._clock.sleep(max(0.0, due - self._clock.monotonic()))
        self._timer = None  # this task is ending: flush() must not cancel it
        self.flush()

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
