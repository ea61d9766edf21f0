"""The tutor chat WebSocket. Thin: it authenticates, parses frames and hands them on."""

from __future__ import annotations

import logging

from channels.consumer import get_handler_name
from channels.generic.websocket import AsyncWebsocketConsumer
from django.db import DatabaseError
from django.utils import translation

from lessons_app import observability
from lessons_app.languages import language_of_scope
from lessons_app.tutor.admission import admit
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

# "Try again later": the socket could not be set up; the client reconnects. RFC 6455's
# 1013, in the range for applications (Daphne refuses to send 1013 itself). The codes of
# a socket that may not chat are lessons_app.tutor.admission.Refusal.
CLOSE_TRY_AGAIN_LATER = 4013


class LessonChatConsumer(AsyncWebsocketConsumer):
    # No channel layer: every frame of a turn travels through the turn engine, so an
    # outage of the layer's Redis can't close idle sockets (see lessons_app.tutor).
    channel_layer_alias = None
    session: ChatSession | None = None
    # The learner's language (lessons_app.languages): frames' texts and stage markers are
    # written in it, and the tutor is told to reply in it.
    language: str = ""

    async def dispatch(self, message: dict) -> None:
        """Channels' dispatch, without its ``close_old_connections`` before every message.

        Channels runs that on its one shared thread, to tidy the connections of consumers
        that query there. This one never does: its database work goes to the pool of
        ``lessons_app.tutor.database``, and every such call (like every
        ``database_sync_to_async`` call) tidies its thread's connection itself. Left in,
        each frame a learner sends would wait for that thread, behind whatever else
        queued there, and cost two thread switches, for nothing.
        """
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def connect(self) -> None:
        self.language = language_of_scope(self.scope)
        with translation.override(self.language):
            await self._connect()

    async def _connect(self) -> None:
        # Answered first, then one trip decides (lessons_app.tutor.admission says why).
        await self.accept()
        slug = self.scope["url_route"]["kwargs"]["slug"]
        try:
            admission = await database_call(admit)(self.scope, slug)
        except DatabaseError:
            await self._give_up("the database is unavailable")
            return
        if admission.refusal is not None:
            # A plain int: autobahn refuses any other type of close code.
            await self.close(code=admission.refusal.value)
            return
        session = ChatSession(
            admission.user,
            admission.lesson,
            admission.conversation,
            await get_runtime(),
            self.send_text,
            cursor=parse_resume_cursor(self.scope.get("query_string", b"")),
            language=self.language,
        )
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
