"""Closing the Redis engine ends its tasks even when one absorbs a cancellation."""

import asyncio

from lessons_app.tutor.engines import redis as redis_engine


async def test_a_task_that_absorbs_a_cancel_is_cancelled_again(monkeypatch):
    monkeypatch.setattr(redis_engine, "CANCEL_AGAIN_AFTER_SECONDS", 0.01)
    absorbed = asyncio.Event()

    async def reads_on_after_one_cancel():
        # What redis-py's reply reader can do: take the cancel and wait on its socket again.
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            absorbed.set()
        await asyncio.Event().wait()

    async def plain():
        await asyncio.Event().wait()

    tasks = [asyncio.create_task(reads_on_after_one_cancel()), asyncio.create_task(plain())]
    await asyncio.sleep(0)  # both are waiting
    await redis_engine._cancel_until_done(tasks)

    assert absorbed.is_set()
    assert all(task.cancelled() for task in tasks)
