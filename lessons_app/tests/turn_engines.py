"""Pytest fixtures for tests that run the turn runtime (a plugin, listed in conftest.py).

``turn_runtime``: the test's runtime (started by its first socket) is shut down when
the test ends, and its Redis keys, under a prefix of the test's own, are deleted.
``turn_engine``: the same test once on the in-memory engine and once on Redis; the
Redis run needs ``REDIS_URL`` (it skips without it locally and fails in CI).
"""

from __future__ import annotations

import asyncio
import io
import uuid

import pytest

from lessons_app.tutor.runtime import shutdown_runtime
from tutor_project.testing.required_services import require_redis

ENGINES = ("memory", "redis")
# A runtime that has not closed by then never will; say what it is waiting on.
SHUTDOWN_LIMIT_SECONDS = 30


def pending_tasks() -> str:
    """Every task still on the loop, with where it waits, for a shutdown that hangs."""
    out = io.StringIO()
    for task in asyncio.all_tasks():
        if task is not asyncio.current_task():
            task.print_stack(file=out)
    return out.getvalue()


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
    try:
        async with asyncio.timeout(SHUTDOWN_LIMIT_SECONDS):
            await shutdown_runtime()
    except TimeoutError:
        pytest.fail(f"The turn runtime did not shut down:\n{pending_tasks()}")
    if settings.TUTOR_TURN_ENGINE == "redis":
        await delete_redis_keys(settings.REDIS_URL, settings.TUTOR_REDIS_PREFIX)


@pytest.fixture(params=ENGINES)
def turn_engine(request, settings, turn_runtime) -> str:
    if request.param == "redis":
        settings.REDIS_URL = require_redis()
    settings.TUTOR_TURN_ENGINE = request.param
    return request.param
