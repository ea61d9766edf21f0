"""The tutor chat WebSocket. Thin: it authenticates, parses frames and hands them on."""

from __future__ import annotations

import json
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.core.serializers.json import DjangoJSONEncoder

from lessons_app import observability
from lessons_app.chat import ChatSession, find_visible_lesson
from lessons_app.frames import FrameError, parse_client_frame

# Close codes sent instead of accepting; browsers see a failed handshake.
CLOSE_UNAUTHENTICATED = 4401
CLOSE_NOT_FOUND = 4404


class LessonChatConsumer(AsyncWebsocketConsumer):
    session: ChatSession | None = None

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        slug = self.scope["url_route"]["kwargs"]["slug"]
        lesson = await database_sync_to_async(find_visible_lesson)(user, slug)
        if lesson is None:
            await self.close(code=CLOSE_NOT_FOUND)
            return
        self.session = ChatSession(user, lesson, send=self.send_frame)
        await self.accept()
        observability.socket_opened()
        await self.session.open()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.session is None:
            return
        try:
            command = parse_client_frame(text_data)
        except FrameError as exc:
            await self.send_frame(exc.as_frame())
            return
        await self.session.handle(command)

    async def disconnect(self, code: int) -> None:
        if self.session is not None:
            observability.socket_closed()
            await self.session.close()

    async def send_frame(self, frame: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps(frame, cls=DjangoJSONEncoder))
