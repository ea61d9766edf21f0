"""The Redis engine's feed: one stream for every conversation, read whole by every process.

Two engines on one Redis stand for two worker processes. What is checked: an event
reaches the sockets of its conversation in the other process and no others, and
sockets opening and closing neither write to Redis nor change what the reader asks
for (before, every socket added a stream to each ``XREAD`` and woke the reader).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from lessons_app.tests.turn_engines import delete_redis_keys
from lessons_app.tutor import feed
from lessons_app.tutor.engines.base import ConversationEvent, EngineState, Subscription
from lessons_app.tutor.engines.redis import RedisEngine
from tutor_project.testing.required_services import require_redis

DELIVERY_SECONDS = 10


@pytest.fixture
async def engines() -> AsyncIterator[tuple[RedisEngine, RedisEngine]]:
    url, prefix = require_redis(), f"tutor-test-{uuid.uuid4().hex[:10]}"
    pair = (
        RedisEngine(runner_id="here:1:aaaa", url=url, prefix=prefix),
        RedisEngine(runner_id="there:2:bbbb", url=url, prefix=prefix),
    )
    for engine in pair:
        await engine.start(on_stop=lambda turn_id: None, on_state=lambda available: None)
    yield pair
    for engine in pair:
        await engine.close()
    await delete_redis_keys(url, prefix)


async def _redis_contents(url: str, prefix: str) -> dict[str, int]:
    """Every key under ``prefix`` and its stream's length (0 for other kinds)."""
    client = Redis.from_url(url, decode_responses=True)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}:*")]
        return {
            key: await client.xlen(key) if await client.type(key) == "stream" else 0 for key in keys
        }
    finally:
        await client.aclose()


async def _next_event(subscription: Subscription) -> ConversationEvent:
    while True:
        delivery = await asyncio.wait_for(subscription.queue.get(), DELIVERY_SECONDS)
        if not isinstance(delivery, EngineState):
            return delivery


async def test_an_event_reaches_its_conversations_sockets_in_another_process_only(engines):
    here, there = engines
    watching, elsewhere = there.subscribe(), there.subscribe()
    there.watch(watching, 7)
    there.watch(elsewhere, 8)

    await here.append({}, announcements=[(7, feed.turn_started(41, supersedes=False))])
    await here.append({}, announcements=[(8, feed.turn_interrupted(42))])

    first = await _next_event(watching)
    assert first.event == feed.turn_started(41, supersedes=False)
    assert (await _next_event(elsewhere)).event == feed.turn_interrupted(42)
    assert watching.queue.empty(), "conversation 8's event went to a socket of 7"


async def test_sockets_opening_and_closing_leave_redis_and_the_readers_read_alone(engines):
    here, _ = engines
    url, prefix = here._url, here._prefix
    streams_before, _ = here._streams()
    contents_before = await _redis_contents(url, prefix)

    sockets = [here.subscribe() for _ in range(200)]
    for number, subscription in enumerate(sockets):
        here.watch(subscription, 1_000 + number)
    streams_while_open, _ = here._streams()
    for subscription in sockets:
        here.unsubscribe(subscription)
    await asyncio.sleep(0)  # a wake, had one been asked for, would be on its way

    reads = [here._wake_key, here._control_key, here.feed_key]
    assert list(streams_while_open) == list(streams_before) == reads
    assert not here._background, "a socket woke the reader"
    assert await _redis_contents(url, prefix) == contents_before


async def test_an_event_written_after_a_socket_watches_is_never_missed(engines):
    here, there = engines
    for turn_id in range(1, 51):
        subscription = there.subscribe()
        there.watch(subscription, turn_id)
        await here.append({}, announcements=[(turn_id, feed.turn_started(turn_id))])
        assert (await _next_event(subscription)).event[feed.TURN] == turn_id
        there.unsubscribe(subscription)


async def test_a_process_started_while_redis_was_down_gets_no_events_from_before(
    engines, monkeypatch
):
    here, _ = engines
    await here.append({}, announcements=[(5, feed.turn_started(51))])  # before it starts
    late = RedisEngine(runner_id="late:3:cccc", url=here._url, prefix=here._prefix)
    answers, asked_again = late._last_id, asyncio.Event()

    async def down_at_first(key: str) -> str:
        if late._reader_task is None:  # during start(): Redis does not answer
            raise RedisConnectionError("Redis is down")
        try:
            return await answers(key)
        finally:
            asked_again.set()

    monkeypatch.setattr(late, "_last_id", down_at_first)
    await late.start(on_stop=lambda turn_id: None, on_state=lambda available: None)
    try:
        socket = late.subscribe()
        late.watch(socket, 5)
        await asyncio.wait_for(asked_again.wait(), DELIVERY_SECONDS)  # its reader asks
        await here.append({}, announcements=[(5, feed.turn_started(52))])
        assert (await _next_event(socket)).event[feed.TURN] == 52, "an event from before"
    finally:
        await late.close()
