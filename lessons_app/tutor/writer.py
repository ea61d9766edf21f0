"""Writes every turn's log and the conversations' events to the engine: in order, batched,
and again after an outage, until the engine has all of it.

A turn *opens* its log here (:meth:`LogWriter.open`) and says when it has added
entries (:meth:`LogWriter.added`): this process's sockets get them at once, and one
task per process sends whatever is new to the engine in one batch, so under load
many frames of many turns go to Redis in one round trip while an idle turn's frame
goes at once. The writer keeps each open log whole until the engine holds all of it
and the turn has ended, and it always sends from the number the engine says it has,
so a Redis that restarted empty gets the log again from its start, never with a hole.
Announcements (feed events) are sent after the logs of the same batch, and retried
like them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from lessons_app.tutor.clock import Clock
from lessons_app.tutor.engines.base import EngineUnavailable, LogEntry, TurnEngine

logger = logging.getLogger(__name__)

RETRY_FIRST_SECONDS = 0.1
RETRY_MAX_SECONDS = 2.0


def _after(entries: Sequence[LogEntry], written: int) -> Sequence[LogEntry]:
    """The entries numbered above ``written``.

    A log's entries are numbered one by one from its first (a running turn's from 1, a
    swept one's single last entry from where its log stopped), so they are a slice: a
    writer that flushes after every few chunks must not read the whole log each time.
    """
    if not entries:
        return []
    return entries[max(0, written - entries[0].seq + 1) :]


class LogWriter:
    def __init__(self, engine: TurnEngine, clock: Clock) -> None:
        self._engine = engine
        self._clock = clock
        # Open logs (the turn's own list of entries) and the newest number the engine holds.
        self._logs: dict[int, Sequence[LogEntry]] = {}
        self._written: dict[int, int] = {}
        self._dirty: set[int] = set()
        self._ending: set[int] = set()
        self._announcements: list[tuple[int, Mapping[str, Any]]] = []
        self._ready = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="tutor-log-writer")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    def open(self, turn_id: int, entries: Sequence[LogEntry], *, written: int = 0) -> None:
        """Write ``entries`` (a list the caller extends) to turn ``turn_id``'s log.

        ``written``: the number the engine's log is known to hold already (for the
        sweep, which adds one entry to the log a dead runner left).
        """
        self._logs[turn_id] = entries
        self._written[turn_id] = written
        self.added(turn_id, [entry for entry in entries if entry.seq > written])

    def added(self, turn_id: int, entries: Sequence[LogEntry]) -> None:
        """``entries`` were added at the end of the turn's list."""
        # This process's sockets get them now; the log (and other processes) next.
        self._engine.deliver_locally(turn_id, entries)
        self._dirty.add(turn_id)
        self._wake()

    def end(self, turn_id: int) -> None:
        """The turn has its last entry: seal its log once the engine holds all of it."""
        self._ending.add(turn_id)
        self._dirty.add(turn_id)
        self._wake()

    def abandon(self, turn_id: int) -> None:
        """Write no more of this turn's log (someone else finished it)."""
        self._forget(turn_id)

    def announce(self, conversation_id: int, event: Mapping[str, Any]) -> None:
        """Tell every socket of the conversation, in every process, after the logs before it."""
        self._announcements.append((conversation_id, event))
        self._wake()

    def recheck(self) -> None:
        """Find out what the engine lost (after an outage) and send it again."""
        self._dirty.update(self._logs)
        self._wake()

    async def flushed(self) -> None:
        """Wait until the engine holds everything given so far."""
        await self._idle.wait()

    def _wake(self) -> None:
        self._idle.clear()
        self._ready.set()

    async def _run(self) -> None:
        pause = RETRY_FIRST_SECONDS
        while True:
            await self._ready.wait()
            self._ready.clear()
            try:
                await self._flush()
            except Exception as exc:  # kept and sent again: nothing is dropped
                if isinstance(exc, EngineUnavailable):
                    logger.warning("Turn frames held back, the engine is unavailable: %s", exc)
                else:
                    logger.exception("Writing turn frames failed; trying again")
                await self._clock.sleep(pause)
                pause = min(pause * 2, RETRY_MAX_SECONDS)
                self._ready.set()
                continue
            pause = RETRY_FIRST_SECONDS
            if self._dirty or self._announcements:
                self._ready.set()  # the engine asked for more (a log it lost), or more came
            else:
                self._idle.set()

    async def _flush(self) -> None:
        dirty, self._dirty = self._dirty, set()
        announcements, self._announcements = self._announcements, []
        logs = {
            turn_id: _after(self._logs[turn_id], self._written[turn_id])
            for turn_id in dirty
            if turn_id in self._logs
        }
        # An ended turn's log is sealed in the same round trip as its last entries; if the
        # engine turns out to lack some, the next round sends them and seals again.
        seal = [turn_id for turn_id in self._ending if turn_id in logs]
        try:
            tops = await self._engine.append(logs, seal=seal, announcements=announcements)
        except BaseException:
            self._dirty |= dirty
            self._announcements[:0] = announcements
            raise
        for turn_id, top in tops.items():
            self._settle(turn_id, top)

    def _settle(self, turn_id: int, top: int) -> None:
        """Take the engine's answer for one log: done, send on from ``top``, or give up."""
        entries = self._logs.get(turn_id)
        if entries is None:
            return
        last = entries[-1].seq if entries else 0
        first = entries[0].seq if entries else 1
        if top < 0 or top > last or top < first - 1:
            # Refused, written further by another writer (the sweep took the turn over),
            # or shorter than what we still hold: nothing more this writer can do.
            if top < 0 or top < first - 1:
                logger.warning("The log of turn %s cannot be completed (at %s)", turn_id, top)
            self._forget(turn_id)
            return
        self._written[turn_id] = top
        if top < last:
            self._dirty.add(turn_id)  # the log is shorter than we thought: send on from top
        elif turn_id in self._ending:
            self._forget(turn_id)

    def _forget(self, turn_id: int) -> None:
        self._logs.pop(turn_id, None)
        self._written.pop(turn_id, None)
        self._ending.discard(turn_id)
        self._dirty.discard(turn_id)
        self._engine.done_here(turn_id)
