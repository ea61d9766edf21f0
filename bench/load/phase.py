"""One measured phase: c learners, each running turns back to back for a fixed time.

The learners' first turns are spread over one turn's length (config.TURN_SECONDS), so
turns start at the steady rate instead of all at once. Chunks per second and CPU per chunk
are taken over the window in which every learner is busy: from the last learner's start
to the end of the phase. Used by the load client (turns over WebSockets) and the direct
LiteLLM client (turns straight from ``litellm.acompletion``) alike.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any

from bench.load.config import CHUNKS, TURN_SECONDS
from bench.load.stats import Turn, summarize

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu_seconds(pid: int) -> float:
    """User plus system CPU of process ``pid`` and all its threads, from /proc."""
    with open(f"/proc/{pid}/stat") as stat:
        # The command name may hold spaces: the fields after its closing parenthesis count.
        fields = stat.read().rsplit(")", 1)[1].split()
    utime, stime = int(fields[11]), int(fields[12])
    return (utime + stime) / CLOCK_TICKS


def cpu_of(pids: list[int]) -> Callable[[], float]:
    return lambda: sum(process_cpu_seconds(pid) for pid in pids)


async def _sample_cpu(window: tuple[float, float], cpu: Callable[[], float]) -> float:
    start, end = window
    await asyncio.sleep(max(0.0, start - time.monotonic()))
    before = cpu()
    await asyncio.sleep(max(0.0, end - time.monotonic()))
    return cpu() - before


async def run_phase(
    c: int,
    seconds: float,
    turn: Callable[[int, int], Awaitable[Turn]],
    cpu: Callable[[], float],
) -> dict[str, Any]:
    """Run ``turn(learner, number)`` in a loop on ``c`` learners for ``seconds``; summarise."""
    start = time.monotonic() + 0.05
    end = start + seconds
    spread = TURN_SECONDS if c > 1 else 0.0
    window = (start + spread, end)
    turns: list[Turn] = []

    async def learner(index: int) -> None:
        await asyncio.sleep(max(0.0, start + spread * index / c - time.monotonic()))
        number = 0
        while True:  # at least one turn each, however short the phase
            turns.append(await turn(index, number))
            number += 1
            if time.monotonic() >= end:
                return

    sampler = asyncio.create_task(_sample_cpu(window, cpu))
    await asyncio.gather(*(learner(index) for index in range(c)))
    cpu_seconds = await sampler
    summary = summarize(turns, window, cpu_seconds, CHUNKS)
    summary.update(c=c, seconds=time.monotonic() - start)
    return summary
