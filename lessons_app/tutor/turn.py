"""One tutor turn: a job of this process's runner that no socket owns.

It turns the seam's events into numbered log entries for every socket, keeps the
reply's text for the runner's checkpoints, and saves the reply's final state
*before* its last frame (``done`` or ``error``) goes out, so a socket that sees the
end and reconnects finds the row finished. Closing a socket never touches it; a
stop request, the runtime shutting down or the sweep taking it over ends it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from contextlib import aclosing
from dataclasses import dataclass, replace
from typing import Any

from django.conf import settings
from django.db import DatabaseError

from lessons_app import observability, prompts
from lessons_app.models import Message
from lessons_app.observability import TurnLog
from lessons_app.reply_errors import ReplyErrorCode
from lessons_app.teaching import checklist
from lessons_app.teaching_tools import check_call, record_call, tools_for
from lessons_app.tutor import feed, turns
from lessons_app.tutor.clock import Clock
from lessons_app.tutor.conversation import serialize_message
from lessons_app.tutor.database import database_call
from lessons_app.tutor.engines.base import LogEntry
from lessons_app.tutor.loop_share import LoopShare
from lessons_app.tutor.protocol import (
    INTERRUPTED_MESSAGE,
    STOPPED_MESSAGE,
    TURN_MESSAGE_ID,
    TURN_SEQ,
    ServerFrame,
    encode_frame,
    refusal_error,
    teaching_frame,
    turn_error,
    usage_frame,
)
from lessons_app.tutor.text_frames import TextFrames
from lessons_app.tutor.turns import OpenedTurn, TurnRequest, TurnResult
from lessons_app.tutor.writer import LogWriter
from llm_app.events import (
    TOOL_ARGUMENTS,
    TOOL_NAME,
    ErrorCode,
    EventType,
    error_event,
    text_event,
    tool_use_event,
)
from llm_app.tool_support import calls_tools
from llm_app.turn_record import TurnRecord

logger = logging.getLogger(__name__)

# Backoff for saving a finished reply while the database is unreachable.
SAVE_RETRY_FIRST_SECONDS = 0.5
SAVE_RETRY_MAX_SECONDS = 10.0

# The codes of the endings that come from the chat, not the model call.
_END_STATUS = {
    ReplyErrorCode.STOPPED: (Message.Status.STOPPED, STOPPED_MESSAGE),
    ReplyErrorCode.INTERRUPTED: (Message.Status.INTERRUPTED, INTERRUPTED_MESSAGE),
}


def log_entry(reply_id: int, seq: int, frame: dict[str, Any], shows: int | None = None) -> LogEntry:
    """Entry ``seq`` of turn ``reply_id``: the frame with its turn fields, encoded once."""
    wire = {**frame, TURN_MESSAGE_ID: reply_id, TURN_SEQ: seq}
    return LogEntry(seq, frame["type"], encode_frame(wire), shows)


def ended_by(reason: ReplyErrorCode) -> tuple[TurnResult, dict[str, Any]]:
    """The result and last frame of a turn that was stopped or interrupted."""
    status, message = _END_STATUS[reason]
    return TurnResult(status, reason), turn_error(reason, message)


def _internal() -> tuple[TurnResult, dict[str, Any]]:
    return TurnResult(Message.Status.ERROR, ReplyErrorCode.INTERNAL), error_event(
        ErrorCode.INTERNAL
    )


def record_reply(reply: Message, *, user_id: int, lesson_slug: str) -> None:
    """The log line and metrics of a finished turn, from its saved reply."""
    record = reply.turn_record()
    observability.record_turn(
        TurnLog.of(
            # An interrupted reply's runner died before it could time the turn.
            replace(record, total_time_ms=record.total_time_ms or 0),
            conversation_id=reply.conversation_id,
            message_id=reply.pk,
            user_id=user_id,
            lesson_slug=lesson_slug,
            status=reply.status,
            error_code=reply.error_code,
            text=reply.content,
        )
    )


@dataclass(frozen=True)
class TurnOwner:
    """Who the turn is for; the same for every socket of that learner."""

    user_id: int
    lesson_slug: str
    for_staff: bool
    show_debug: bool


class RunningTurn:
    def __init__(
        self,
        request: TurnRequest,
        opened: OpenedTurn,
        owner: TurnOwner,
        *,
        writer: LogWriter,
        clock: Clock,
        loop_share: LoopShare,
        started_at: float,
        on_done: Callable[[RunningTurn], None],
    ) -> None:
        self.request = request
        self.opened = opened
        self.owner = owner
        self.reply_id: int = opened.reply.pk
        self.conversation_id: int = request.conversation.pk
        self.entries: list[LogEntry] = []
        self.checkpointed_length = 0
        # Set once the final save begins: stop requests and checkpoints leave it alone.
        self.finishing = False
        self._writer = writer
        self._clock = clock
        self._loop_share = loop_share
        self._started_at = started_at
        self._first_token_at: float | None = None
        self._record: TurnRecord | None = None
        self._parts: list[str] = []
        self._length = 0
        self._on_done = on_done
        self._end_reason: ReplyErrorCode | None = None
        self._taken_over = False
        self._task: asyncio.Task | None = None
        self._text_frames = TextFrames(
            settings.TUTOR_TEXT_FRAME_SECONDS,
            clock,
            lambda text: self._emit(text_event(text)),
            loop_share,
        )

    @property
    def text(self) -> str:
        return "".join(self._parts)

    @property
    def text_length(self) -> int:
        return self._length

    def start(self) -> None:
        self._writer.open(self.reply_id, self.entries)
        self._task = asyncio.get_running_loop().create_task(
            self._run(), name=f"tutor-turn-{self.reply_id}"
        )

    async def wait(self) -> None:
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)

    def end(self, reason: ReplyErrorCode, *, taken_over: bool = False) -> None:
        """Stop the turn now; ``taken_over``: the sweep already finished its row."""
        if self.finishing or self._end_reason is not None or self._task is None:
            return
        self._end_reason = reason
        self._taken_over = taken_over
        self._task.cancel()

    def _emit(self, frame: dict[str, Any], *, shows: int | None = None) -> None:
        if frame["type"] != EventType.TEXT:
            self._text_frames.flush()  # the text before it goes first
        entry = log_entry(self.reply_id, len(self.entries) + 1, frame, shows)
        self.entries.append(entry)
        self._writer.added(self.reply_id, (entry,))

    async def _run(self) -> None:
        try:
            self._emit_start()
            # Sent with the first entries: every socket of the learner follows from here.
            self._writer.announce(
                self.conversation_id,
                feed.turn_started(self.reply_id, supersedes=self.opened.supersedes),
            )
            result, last_frame = await self._produce()
        except asyncio.CancelledError:
            asyncio.current_task().uncancel()
            result, last_frame = ended_by(self._end_reason or ReplyErrorCode.INTERRUPTED)
        except Exception:
            logger.exception("Tutor turn %s failed unexpectedly", self.reply_id)
            result, last_frame = _internal()
        try:
            await self._finish(result, last_frame)
        except Exception:
            # Not a database outage (those are retried): the row stays streaming until the
            # sweep finishes it as interrupted; the followers are told to resynchronise then.
            logger.exception("Finishing turn %s failed", self.reply_id)
            self._writer.abandon(self.reply_id)
        finally:
            self._text_frames.close()
            self._on_done(self)

    def _emit_start(self) -> None:
        user_message = self.opened.user_message
        if user_message is not None:
            self._emit(
                {
                    "type": ServerFrame.MESSAGE.value,
                    "message": serialize_message(user_message, for_staff=self.owner.for_staff),
                },
                shows=user_message.pk,
            )
        self._emit(
            {
                "type": ServerFrame.REPLY.value,
                "message": serialize_message(self.opened.reply, for_staff=self.owner.for_staff),
            },
            shows=self.reply_id,
        )

    async def _produce(self) -> tuple[TurnResult, dict[str, Any]]:
        opened = self.opened
        if opened.refusal is not None:
            refusal = opened.refusal
            return TurnResult(Message.Status.ERROR, refusal.code), refusal_error(
                refusal.code, refusal.message
            )
        if opened.failed or opened.context is None:
            return _internal()

        def on_prompt(system: str, messages: list[dict]) -> None:
            if self.owner.show_debug:
                self._emit(prompts.debug_payload(system, messages))

        reply = prompts.send_message(
            opened.context.history,
            self.request.stage,
            current_content=opened.context.current_content,
            previous_content=opened.context.previous_content,
            provider=opened.provider,
            on_prompt=on_prompt,
            teaching=self.request.teaching,
            learner=opened.context.learner,
            language=self.request.language,
        )
        # aclosing: a stop that lands while the turn gives way (between two chunks, not
        # inside the stream) closes the provider stream now, not when it is collected.
        async with aclosing(reply) as events:
            async for event in events:
                ended = await self._take(event)
                if ended is not None:
                    return ended
        return _internal()  # the seam always ends with done or error; this is a guard

    async def _take(self, event: dict[str, Any]) -> tuple[TurnResult, dict[str, Any]] | None:
        """Act on one seam event; the turn's result and last frame if it ends the turn."""
        kind = event["type"]
        if kind == EventType.TEXT:
            if self._first_token_at is None:
                self._first_token_at = self._clock.monotonic()
            self._parts.append(event["content"])
            self._length += len(event["content"])
            self._text_frames.add(event["content"])
            # The next chunk may be waiting in the buffer already: the other tasks go first.
            await self._loop_share.give_way()
            return None
        if kind == EventType.DONE:
            return TurnResult(Message.Status.COMPLETE, "", self._record), event
        if kind == EventType.ERROR:
            code = ReplyErrorCode(event["code"])
            return TurnResult(Message.Status.ERROR, code, self._record), event
        if kind == EventType.USAGE:
            self._record = TurnRecord.from_values(event)
            event = usage_frame(self._record)
        elif kind == EventType.TOOL_USE:
            name = event[TOOL_NAME]
            if name != prompts.TRANSITION_TOOL_NAME:
                await self._record_teaching(event)
                return None
            # The browser's frame is the tool's name alone (docs/protocol.md).
            event = tool_use_event(name)
        self._emit(event)
        return None

    async def _record_teaching(self, event: dict[str, Any]) -> None:
        """Save a teaching tool call that checks out, and show the learner their checklist.

        A call that does not check out is logged and dropped (lessons_app.teaching_tools);
        the learner never sees a tool call itself.
        """
        teaching, learner = self.request.teaching, self.opened.context.learner
        provider = self.opened.provider
        offered = tools_for(teaching) if provider is not None and calls_tools(provider) else []
        checked = check_call(
            event[TOOL_NAME],
            event.get(TOOL_ARGUMENTS, {}),
            teaching,
            offered,
            reply_id=self.reply_id,
        )
        if checked is None:
            return
        try:
            changed = await database_call(record_call)(
                checked,
                user=self.request.user,
                lesson_id=self.request.lesson.pk,
                reply_id=self.reply_id,
                teaching=teaching,
                state=learner,
            )
        except DatabaseError as exc:
            logger.warning("Recording %s of turn %s failed: %s", checked.tool, self.reply_id, exc)
            return
        if changed:
            self._emit(teaching_frame(checklist(teaching, learner)))

    async def _finish(self, result: TurnResult, last_frame: dict[str, Any]) -> None:
        self.finishing = True
        now = self._clock.monotonic()
        first_token_ms = (
            round((self._first_token_at - self._started_at) * 1000)
            if self._first_token_at is not None
            else None
        )
        total_ms = round((now - self._started_at) * 1000)
        saved = None
        if not self._taken_over:
            saved = await self._save(result, first_token_ms, total_ms)
        if saved is None:
            # The sweep finished the row (it thought this process dead): its word stands.
            # What this runner wrote after that is not the turn's; its sockets start afresh.
            logger.warning("Turn %s was finished by the sweep meanwhile", self.reply_id)
            self._writer.abandon(self.reply_id)
            self._writer.announce(self.conversation_id, feed.turn_interrupted(self.reply_id))
            return
        self._emit(last_frame)
        self._writer.end(self.reply_id)
        record_reply(saved, user_id=self.owner.user_id, lesson_slug=self.owner.lesson_slug)

    async def _save(
        self, result: TurnResult, first_token_ms: int | None, total_ms: int
    ) -> Message | None:
        pause = SAVE_RETRY_FIRST_SECONDS
        while True:
            try:
                return await database_call(turns.finish_reply)(
                    self.reply_id,
                    content=self.text,
                    result=result,
                    first_token_ms=first_token_ms,
                    total_ms=total_ms,
                )
            except DatabaseError as exc:
                # The reply is kept here until the database is back; the learner waits
                # for `done` rather than being told something unsaved was saved.
                logger.warning("Saving turn %s failed, retrying: %s", self.reply_id, exc)
                await self._clock.sleep(pause)
                pause = min(pause * 2, SAVE_RETRY_MAX_SECONDS)
