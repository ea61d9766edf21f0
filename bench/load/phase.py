"""One measured phase: c learners, each running turns back to back for a fixed time.

The learners' first turns are spread over one turn's length (config.TURN_SECONDS), so
turns start at the steady rate instead of all at once. Chunks per second are taken over
the window in which every learner is busy: from the last learner's start to the end of
the phase. CPU per chunk is the whole phase's: the CPU from the first turn sent to the
last one ended, over every chunk the phase delivered, so each turn's own start and end
are counted with its chunks. Over the window instead, a saturated server's figure
depended on how many of its turns were still starting in it (the same worker read 640
or 1,300 µs a chunk from one phase to the next, for the same CPU over the phase).

A steady phase (the comparison of one worker with two, at saturation) counts both in a
later window, once every learner's first turn has ended: a saturated server's first
seconds go to opening c turns at once (their database work, before any chunk), and a
window that holds mostly that start measures how fast the start clears, which two
workers do more than twice as fast, not how many chunks a worker streams. Used by the
load client (turns over WebSockets) and the direct LiteLLM client (turns straight from
``litellm.acompletion``) alike.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
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


@dataclass
class _Window:
    """When chunks and CPU are counted; a steady phase moves it once it knows when."""

    start: float
    end: float


async def _sample_cpu(
    window: _Window,
    cpus: tuple[Callable[[], float], ...],
    ready: asyncio.Event,
    steady_seconds: float | None,
) -> tuple[float, ...] | None:
    """The CPU each of ``cpus`` spent in the window; ``None`` if there is no window
    (never steady in time).

    ``steady_seconds``: the window starts when ``ready`` is set and lasts that long, or
    until the window's end if that comes first.
    """
    await asyncio.sleep(max(0.0, window.start - time.monotonic()))
    await ready.wait()
    if steady_seconds is not None:
        now = time.monotonic()
        window.start, window.end = now, min(window.end, now + steady_seconds)
    if window.start >= window.end:
        return None
    before = [cpu() for cpu in cpus]
    await asyncio.sleep(max(0.0, window.end - time.monotonic()))
    return tuple(cpu() - was for cpu, was in zip(cpus, before, strict=True))


async def run_phase(
    c: int,
    seconds: float,
    turn: Callable[[int, int], Awaitable[Turn]],
    cpu: Callable[[], float],
    *,
    steady_limit: float | None = None,
    harness_cpu: Callable[[], float] = lambda: 0.0,
) -> dict[str, Any]:
    """Run ``turn(learner, number)`` in a loop on ``c`` learners for ``seconds``; summarise.

    ``steady_limit``: a steady phase (see above). Its window starts once every learner's
    first turn has ended and lasts ``seconds``; the phase ends with it, or after
    ``steady_limit`` seconds at the latest, without a window if it never got steady.
    ``harness_cpu``: the measuring processes' CPU (the load client's, the fake provider's),
    counted in the same window: on a small machine they share the servers' cores.
    """
    start = time.monotonic() + 0.05
    spread = TURN_SECONDS if c > 1 else 0.0
    window = _Window(start + spread, start + (steady_limit or seconds))
    turns: list[Turn] = []
    first_turns_left = c
    all_busy = asyncio.Event()
    if steady_limit is None:
        all_busy.set()

    async def learner(index: int) -> None:
        nonlocal first_turns_left
        await asyncio.sleep(max(0.0, start + spread * index / c - time.monotonic()))
        number = 0
        while True:  # at least one turn each, however short the phase
            turns.append(await turn(index, number))
            if number == 0:
                first_turns_left -= 1
                if not first_turns_left:
                    all_busy.set()
            number += 1
            if time.monotonic() >= window.end:
                return

    steady_seconds = seconds if steady_limit is not None else None
    sampler = asyncio.create_task(_sample_cpu(window, (cpu, harness_cpu), all_busy, steady_seconds))
    cpu_before = cpu()
    await asyncio.gather(*(learner(index) for index in range(c)))
    phase_cpu_seconds = cpu() - cpu_before
    sampled = await sampler
    cpu_seconds, harness_seconds = sampled if sampled is not None else (None, None)
    # A level phase counts every turn's CPU (see the module's docstring), a steady one its window's.
    every_turn = steady_limit is None
    summary = summarize(
        turns,
        (window.start, window.end),
        phase_cpu_seconds if every_turn else cpu_seconds,
        CHUNKS,
        cpu_over_every_turn=every_turn,
    )
    window_seconds = max(0.0, window.end - window.start)
    summary.update(
        c=c,
        seconds=time.monotonic() - start,
        window_seconds=window_seconds,
        harness_cores=harness_seconds / window_seconds if harness_seconds else None,
        steady_after=window.start - start if steady_limit is not None else None,
    )
    return summary
