"""Pytest fixtures for tests that run the turn runtime (a plugin, listed in conftest.py).

``turn_runtime``: the test's runtime (started by its first socket) is shut down when
the test ends, and its Redis keys, under a prefix of the test's own, are deleted.
``turn_engine``: the same test once on the in-memory engine and once on Redis; the
Redis run needs ``REDIS_URL`` (it skips without it locally and fails in CI).
"""

from __future__ import annotations

import asyncio
import uuid

import pytest

from lessons_app.tutor.runtime import shutdown_runtime
from tutor_project.testing.required_services import require_redis

ENGINES = ("memory", "redis")
# A runtime that has not closed by then never will; say what it is waiting on.
SHUTDOWN_LIMIT_SECONDS = 30


def _awaiting(task: asyncio.Task) -> list[str]:
    """Where ``task`` waits: each coroutine in its chain of awaits, outermost first."""
    chain, coroutine = [], task.get_coro()
    while coroutine is not None:
        frame = getattr(coroutine, "cr_frame", None) or getattr(coroutine, "gi_frame", None)
        if frame is not None:
            chain.append(f"  {frame.f_code.co_filename}:{frame.f_lineno} {frame.f_code.co_name}")
        coroutine = getattr(coroutine, "cr_await", None) or getattr(coroutine, "gi_yieldfrom", None)
    return chain


def pending_tasks() -> str:
    """Every task on the loop but this one, with where each waits, for a shutdown that hangs."""
    return "\n".join(
        "\n".join([repr(task), *_awaiting(task)])
        for task in asyncio.all_tasks()
        if task is not asyncio.current_task()
    )


async def delete_redis_keys(url: str, prefix: str) -> None:
    from redis.asyncio import Redis

    client = Redis.from_url(url)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}:*", count=500)]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


@pytest.fixture
async def turn_runtime(settings):
    settings.TUTOR_REDIS_PREFIX = f"tutor-test-{uuid.uuid4().hex[:10]}"
    yield
    # Its own task, so that a shutdown that hangs can be shown where it waits.
    shutdown = asyncio.ensure_future(shutdown_runtime())
    done, _ = await asyncio.wait({shutdown}, timeout=SHUTDOWN_LIMIT_SECONDS)
    if not done:
        waiting = pending_tasks()
        shutdown.cancel()
        pytest.fail(f"The turn runtime did not shut down:\n{waiting}")
    shutdown.result()
    if settings.TUTOR_TURN_ENGINE == "redis":
        await delete_redis_keys(settings.REDIS_URL, settings.TUTOR_REDIS_PREFIX)


@pytest.fixture(params=ENGINES)
def turn_engine(request, settings, turn_runtime) -> str:
    if request.param == "redis":
        settings.REDIS_URL = require_redis()
    settings.TUTOR_TURN_ENGINE = request.param
    return request.param
