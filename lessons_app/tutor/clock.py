"""Time for the turn runtime, injectable so tests move it instead of waiting for it."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from typing import Protocol

from django.utils import timezone


class Clock(Protocol):
    def now(self) -> datetime:
        """Wall-clock time (aware), for what is stored: heartbeats."""

    def monotonic(self) -> float:
        """Seconds on a clock that never jumps, for durations: time to first token."""

    async def sleep(self, seconds: float) -> None:
        """Wait between the runner's periodic steps and retries."""


class SystemClock:
    def now(self) -> datetime:
        return timezone.now()

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
