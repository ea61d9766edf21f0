"""The bare consumer: the thinnest served path that Daphne and Channels allow, the floor.

Served like the tutor (``daphne bench.load.bare_app:application``), it answers the load
client's chat socket with as little as the client needs: a ``history`` frame on
connect, then for each ``message`` frame the benchmark's LiteLLM call (as the direct
client makes it, bench/load/direct.py), each chunk's text forwarded as a ``text`` frame
the moment it arrives, and ``done``. No database, no session or user, no turn kept,
logged, shared with other sockets or written anywhere. ``/healthz`` answers 200, so
the benchmark can restart it as it restarts the tutor.

What it costs, in the same run as the tutor (CPU per chunk over direct LiteLLM's,
memory per idle socket, the time to take 2,000 sockets back after a restart), is what
the stack fixed by design (Daphne's WebSocket and Channels' consumer around LiteLLM)
costs before the tutor does anything; the tutor's own cost is the gap to its figures.
"""

from __future__ import annotations

import json
import os

import django
from django.conf import settings

# Nothing of the project's: no apps, no database (the env still names its settings).
settings.configure(INSTALLED_APPS=[], DATABASES={}, SECRET_KEY="bench-bare-consumer-only")  # noqa: S106
django.setup()

from channels.generic.websocket import AsyncWebsocketConsumer  # noqa: E402 - after set-up
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402

from bench.load.config import BARE_API_BASE_ENV  # noqa: E402
from bench.load.direct import chunk_text, open_stream  # noqa: E402
from lessons_app.tutor.protocol import ServerFrame  # noqa: E402

API_BASE = os.environ[BARE_API_BASE_ENV]


class BareChatConsumer(AsyncWebsocketConsumer):
    channel_layer_alias = None

    async def connect(self) -> None:
        await self.accept()
        await self._send({"type": ServerFrame.HISTORY, "messages": []})

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None):
        question = json.loads(text_data)["content"]
        try:
            async for chunk in await open_stream(API_BASE, question):
                content = chunk_text(chunk)
                if content:
                    await self._send({"type": ServerFrame.TEXT, "content": content})
        except Exception as error:  # noqa: BLE001 - the load client counts it
            await self._send({"type": ServerFrame.ERROR, "code": type(error).__name__})
            return
        await self._send({"type": ServerFrame.DONE})

    async def _send(self, frame: dict) -> None:
        await self.send(text_data=json.dumps(frame))


async def healthz(scope, receive, send) -> None:
    """200 at any path: the benchmark's servers are polled for /healthz (bench/load/servers.py)."""
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


application = ProtocolTypeRouter(
    {
        "http": healthz,
        "websocket": URLRouter([path("ws/lessons/<slug:slug>/chat/", BareChatConsumer.as_asgi())]),
    }
)
