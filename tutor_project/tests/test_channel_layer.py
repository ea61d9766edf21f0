"""The Redis channel layer, as the settings configure it, against a real Redis."""

import asyncio

from channels.layers import channel_layers, get_channel_layer

from tutor_project.testing.required_services import require_redis


async def test_an_idle_receive_outlives_the_blocking_pop_and_gets_the_next_message():
    """A chat socket idles between turns; its channel-layer receive must just keep waiting.

    channels-redis waits with a blocking pop of ``brpop_timeout`` seconds; with
    redis-py 8's default 5-second socket timeout that wait raised TimeoutError and
    tore every idle WebSocket down (django/channels_redis#422).
    """
    require_redis()
    channel_layers.backends.clear()
    layer = get_channel_layer()
    try:
        channel = await layer.new_channel()
        waiting = asyncio.create_task(layer.receive(channel))
        await asyncio.sleep(layer.brpop_timeout + 1.5)
        assert not waiting.done(), waiting.exception() if waiting.done() else None

        await layer.send(channel, {"type": "chat.ping", "text": "still here"})
        message = await asyncio.wait_for(waiting, timeout=5)
        assert message == {"type": "chat.ping", "text": "still here"}
    finally:
        await layer.flush()
        await layer.close_pools()
        channel_layers.backends.clear()
