"""The Redis channel layer, as the settings configure it, against a real Redis."""

import asyncio

from channels.layers import channel_layers, get_channel_layer

from tutor_project.testing.required_services import require_redis

# Far more than a blocking pop takes; only a hung Redis gets near it.
POP_DEADLINE_SECONDS = 30


def watch_blocking_pops(layer, monkeypatch) -> tuple[asyncio.Event, list[BaseException]]:
    """An event set when the layer starts its second blocking pop, and the pops' failures.

    A second pop means the first one came back empty after its full ``brpop_timeout``
    and the receive went on waiting: the moment the bug tore the socket down. (A hook
    into channels-redis's private pop, which has no public one.)
    """
    second_pop = asyncio.Event()
    failures: list[BaseException] = []
    pops = 0
    real_pop = layer._brpop_with_clean

    async def watched_pop(*args, **kwargs):
        nonlocal pops
        pops += 1
        if pops == 2:
            second_pop.set()
        try:
            return await real_pop(*args, **kwargs)
        except Exception as exc:
            failures.append(exc)
            second_pop.set()
            raise

    monkeypatch.setattr(layer, "_brpop_with_clean", watched_pop)
    return second_pop, failures


async def test_an_idle_receive_outlives_the_blocking_pop_and_gets_the_next_message(monkeypatch):
    """A chat socket idles between turns; its channel-layer receive must just keep waiting.

    channels-redis waits with a blocking pop of ``brpop_timeout`` seconds; with
    redis-py 8's default 5-second socket timeout that wait raised TimeoutError and
    tore every idle WebSocket down (django/channels_redis#422).
    """
    require_redis()
    channel_layers.backends.clear()
    layer = get_channel_layer()
    try:
        second_pop, failures = watch_blocking_pops(layer, monkeypatch)
        channel = await layer.new_channel()
        waiting = asyncio.create_task(layer.receive(channel))
        await asyncio.wait_for(second_pop.wait(), timeout=POP_DEADLINE_SECONDS)
        assert failures == []
        assert not waiting.done(), waiting.exception() if waiting.done() else None

        await layer.send(channel, {"type": "chat.ping", "text": "still here"})
        message = await asyncio.wait_for(waiting, timeout=5)
        assert message == {"type": "chat.ping", "text": "still here"}
    finally:
        await layer.flush()
        await layer.close_pools()
        channel_layers.backends.clear()
