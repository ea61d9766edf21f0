"""A clock for the turn runtime that only moves when the test says so."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta


class ManualClock:
    """Sleepers wake when :meth:`advance` moves the clock past their deadline, not before.

    Give it to ``get_runtime(clock=...)`` before the test's first socket: the runner's
    checkpoints, sweeps and retries then happen exactly when the test advances time.
    """

    def __init__(self, start: datetime | None = None) -> None:
        self._start = start or datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
        self._elapsed = 0.0
        self._moved = asyncio.Event()
        self._sleeping: list[float] = []
        self._sleep_started = asyncio.Event()

    def now(self) -> datetime:
        return self._start + timedelta(seconds=self._elapsed)

    def monotonic(self) -> float:
        return self._elapsed

    async def sleep(self, seconds: float) -> None:
        deadline = self._elapsed + seconds
        self._sleeping.append(seconds)
        self._sleep_started.set()
        try:
            while self._elapsed < deadline:
                await self._moved.wait()
        finally:
            self._sleeping.remove(seconds)

    async def sleeping(self, seconds: float) -> None:
        """Wait until something is asleep for ``seconds`` (so advancing will wake it)."""
        while seconds not in self._sleeping:
            self._sleep_started.clear()
            await self._sleep_started.wait()

    async def advance(self, seconds: float) -> None:
        self._elapsed += seconds
        moved, self._moved = self._moved, asyncio.Event()
        moved.set()
        await asyncio.sleep(0)
