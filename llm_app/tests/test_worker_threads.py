"""LiteLLM's worker threads: one at a time per event loop once limited (llm_app.worker_threads)."""

from __future__ import annotations

import asyncio
import threading

import anyio.to_thread
import pytest

from llm_app.worker_threads import limit_worker_threads

# Turns of the event loop given to the worker threads to start, before the check gives up.
LOOP_TURNS = 10_000


async def _running_together(count: int) -> tuple[int, list[int]]:
    """Start ``count`` thread jobs that each wait to be released: how many ran at once."""
    started: list[int] = []
    release = threading.Event()

    def job(number: int) -> int:
        started.append(number)
        release.wait(timeout=10)
        return number

    jobs = [asyncio.ensure_future(anyio.to_thread.run_sync(job, n)) for n in range(count)]
    limiter = anyio.to_thread.current_default_thread_limiter()
    for _ in range(LOOP_TURNS):
        waiting = limiter.statistics().tasks_waiting
        if started and len(started) + waiting == count:
            break
        await asyncio.sleep(0)
    at_once = len(started)
    release.set()
    return at_once, sorted(await asyncio.gather(*jobs))


async def test_limited_to_one_thread_jobs_run_one_at_a_time_and_all_finish():
    limit_worker_threads(1)
    at_once, finished = await _running_together(3)
    assert at_once == 1
    assert finished == [0, 1, 2]


async def test_unlimited_the_same_jobs_run_together():
    # The check above can fail: without the limit anyio runs them in threads of their own.
    at_once, finished = await _running_together(3)
    assert at_once == 3
    assert finished == [0, 1, 2]


def test_fewer_than_one_thread_is_refused():
    with pytest.raises(ValueError, match="at least one"):
        limit_worker_threads(0)
