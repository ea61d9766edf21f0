"""The tutor chat WebSocket. Thin: it authenticates, parses frames and hands them on."""

from __future__ import annotations

import logging

from channels.generic.websocket import AsyncWebsocketConsumer
from django.db import DatabaseError
from django.utils import translation

from lessons_app import observability
from lessons_app.ai_notice import notice_enabled, notice_required
from lessons_app.languages import language_of_scope
from lessons_app.tutor.conversation import find_chat
from lessons_app.tutor.database import database_call
from lessons_app.tutor.protocol import (
    UNAVAILABLE_MESSAGE,
    FrameError,
    FrameErrorCode,
    encode_frame,
    frame_error,
    parse_client_frame,
    parse_resume_cursor,
)
from lessons_app.tutor.runtime import get_runtime
from lessons_app.tutor.session import ChatSession

logger = logging.getLogger(__name__)

# Close codes sent instead of accepting; browsers see a failed handshake.
CLOSE_UNAUTHENTICATED = 4401
CLOSE_NOT_FOUND = 4404
# The AI-use notice is on and the learner has not accepted it (lessons_app.ai_notice).
CLOSE_NOTICE_NOT_ACCEPTED = 4403
# "Try again later": the socket could not be set up; the client reconnects. RFC 6455's
# 1013, in the range for applications (Daphne refuses to send 1013 itself).
CLOSE_TRY_AGAIN_LATER = 4013


class LessonChatConsumer(AsyncWebsocketConsumer):
    # No channel layer: every frame of a turn travels through the turn engine, so an
    # outage of the layer's Redis can't close idle sockets (see lessons_app.tutor).
    channel_layer_alias = None
    session: ChatSession | None = None
    # The learner's language (lessons_app.languages): frames' texts and stage markers are
    # written in it, and the tutor is told to reply in it.
    language: str = ""

    async def connect(self) -> None:
        self.language = language_of_scope(self.scope)
        with translation.override(self.language):
            await self._connect()

    async def _connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        slug = self.scope["url_route"]["kwargs"]["slug"]
        try:
            found = await database_call(find_chat)(user, slug)
        except DatabaseError:
            await self.accept()
            await self._give_up("the database is unavailable")
            return
        if found is None:
            await self.close(code=CLOSE_NOT_FOUND)
            return
        if notice_enabled() and await database_call(notice_required)(user):
            await self.close(code=CLOSE_NOTICE_NOT_ACCEPTED)
            return
        lesson, conversation = found
        session = ChatSession(
            user,
            lesson,
            conversation,
            await get_runtime(),
            self.send_text,
            cursor=parse_resume_cursor(self.scope.get("query_string", b"")),
            language=self.language,
        )
        await self.accept()
        observability.socket_opened()
        self.session = session
        try:
            await session.open()
        except DatabaseError:
            await self._give_up("the database is unavailable")

    async def _give_up(self, reason: str) -> None:
        """Say why in a frame, then close so that the client reconnects later."""
        logger.warning("Chat socket closed: %s", reason)
        await self.send_text(
            encode_frame(frame_error(FrameErrorCode.UNAVAILABLE, UNAVAILABLE_MESSAGE, None))
        )
        await self.close(code=CLOSE_TRY_AGAIN_LATER)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.session is None:
            return
        with translation.override(self.language):
            await self._receive(text_data)

    async def _receive(self, text_data: str | None) -> None:
        try:
            command = parse_client_frame(text_data)
        except FrameError as exc:
            await self.send_text(encode_frame(exc.as_frame()))
            return
        await self.session.handle(command)

    async def disconnect(self, code: int) -> None:
        if self.session is not None:
            observability.socket_closed()
            # Only this socket's view ends: the conversation's turn goes on without it.
            await self.session.close()

    async def send_text(self, text: str) -> None:
        await self.send(text_data=text)
