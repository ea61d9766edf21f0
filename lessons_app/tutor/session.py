"""The server side of one chat socket: its learner's frames in, their conversation's turns out.

A session never runs a turn. It asks the runner to start one (or stop one) and
*follows* turns through the engine like every other socket of the learner does:
the turn it started, one another tab started, one that began in another process
before this socket connected. It sends each turn frame once, in order; if it ever
finds a gap it sends a fresh ``history`` instead (a snapshot), which the client
treats as the truth. Closing the socket ends the session, never the turn.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import DatabaseError
from django.utils import translation

from lessons_app.models import Conversation, Lesson
from lessons_app.teaching import NO_TEACHING
from lessons_app.tutor import conversation as chat
from lessons_app.tutor import feed
from lessons_app.tutor.conversation import (
    ChatState,
    Opening,
    StagePosition,
    TurnInFlight,
    serialize_message,
)
from lessons_app.tutor.database import database_call
from lessons_app.tutor.engines.base import (
    ConversationEvent,
    EngineState,
    EngineUnavailable,
    LogEntry,
    TurnEntries,
)
from lessons_app.tutor.protocol import (
    BUSY_MESSAGE,
    NOTHING_TO_EDIT_MESSAGE,
    NOTHING_TO_RETRY_MESSAGE,
    UNAVAILABLE_MESSAGE,
    ClientFrame,
    Command,
    FrameError,
    FrameErrorCode,
    ResumeCursor,
    ServerFrame,
    encode_frame,
    in_active_language,
    live_paused_notice,
)
from lessons_app.tutor.runtime import Runtime
from lessons_app.tutor.snapshot import Snapshot, take_snapshot
from lessons_app.tutor.turn import TurnOwner
from lessons_app.tutor.turns import NothingToEdit, NothingToRetry, TurnRequest

logger = logging.getLogger(__name__)

SendText = Callable[[str], Awaitable[None]]

# How long a socket waits for what it expects before it starts again from a snapshot:
# the end of a turn when a newer one has started, or a turn's log it could not read.
RECHECK_SECONDS = 5.0


@dataclass(frozen=True)
class _Recheck:
    """Put in the session's own queue: is it still waiting on this turn?"""

    turn_id: int


class ChatSession:
    def __init__(
        self,
        user,
        lesson: Lesson,
        conversation: Conversation,
        runtime: Runtime,
        send_text: SendText,
        *,
        cursor: ResumeCursor | None = None,
        language: str = "",
    ) -> None:
        self.id = uuid.uuid4().hex
        # The learner's language code; the tutor replies in it (lessons_app.prompts).
        self.language = language
        self.user = user
        self.lesson = lesson
        self.runtime = runtime
        self.engine = runtime.engine
        self.send_text = send_text
        self.for_staff = bool(user.is_staff)
        self.owner = TurnOwner(
            user_id=user.pk,
            lesson_slug=lesson.slug,
            for_staff=self.for_staff,
            show_debug=self.for_staff and settings.TUTOR_DEBUG_PROMPTS,
        )
        self._cursor = cursor
        self.conversation = conversation
        self.stage = None
        self.teaching = NO_TEACHING
        self._stage_data: dict[str, Any] | None = None
        self.subscription = None
        # The turn whose frames this socket is sending, and the last frame number sent.
        self._following: int | None = None
        self._seq = 0
        # Turns that started while another was still being sent, in order.
        self._queued: deque[int] = deque()
        # Messages the browser has (from history or frames): their frames are not resent.
        self._shown: set[int] = set()
        # The turn in flight whose log could not be read when the history was sent.
        self._unread: int | None = None
        self._paused = False
        self._pump: asyncio.Task | None = None
        self._timers: set[asyncio.Task] = set()

    # --- lifecycle ---

    async def open(self) -> None:
        """Send the history (with any turn in flight) and follow the conversation from here."""
        self.subscription = self.engine.subscribe()
        # Watch before reading history, so a turn starting in between is not missed.
        self.engine.watch(self.subscription, self.conversation.pk)
        # Told once it is back, as every socket is (EngineState).
        self._paused = not self.engine.available
        state = await self._send_history(self._cursor)
        if self._paused:
            await self._send(live_paused_notice())
        self._pump = asyncio.get_running_loop().create_task(self._run_pump())
        if state.needs_opening:  # most sockets: known from the history, no trip to ask
            await self._open_stage()

    async def close(self) -> None:
        tasks = [task for task in (self._pump, *self._timers) if task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self.subscription is not None:
            self.engine.unsubscribe(self.subscription)

    async def handle(self, command: Command) -> None:
        handlers = {
            ClientFrame.MESSAGE: self._on_message,
            ClientFrame.STOP: self._on_stop,
            ClientFrame.RETRY: self._on_retry,
            ClientFrame.EDIT: self._on_edit,
            ClientFrame.ADVANCE: self._on_advance,
        }
        try:
            await handlers[command.type](command)
        except FrameError as exc:
            await self._send(exc.as_frame())

    async def _send(self, frame: dict[str, Any]) -> None:
        await self.send_text(encode_frame(frame))

    # --- what the browser is shown ---

    async def _read_state(self, cursor: ResumeCursor | None) -> tuple[ChatState, Snapshot | None]:
        """The saved conversation and a snapshot of its turn in flight, read consistently.

        No snapshot when there is no turn in flight, or its log cannot be read (the
        engine is down): the reply then shows the text last checkpointed.
        """
        for _ in range(2):
            state = await database_call(chat.chat_state)(self.user, self.lesson, self.conversation)
            in_flight = state.in_flight
            if in_flight is None:
                return state, None
            try:
                entries = await self.engine.read(in_flight.pk)
            except EngineUnavailable:
                return state, None
            snapshot = take_snapshot(in_flight.pk, entries, cursor)
            if not snapshot.ended or snapshot.resumed:
                return state, snapshot
            # It ended between the two reads; its row is final now (saved before its end).
        return state, snapshot

    async def _send_history(self, cursor: ResumeCursor | None) -> ChatState:
        state, snapshot = await self._read_state(cursor)
        self._remember(state)
        messages = state.serialized_messages(for_staff=self.for_staff)
        turn = None
        self._stop_following()
        self._queued.clear()
        self._unread = None
        in_flight = state.in_flight
        if in_flight is not None and snapshot is not None:
            for message in messages:
                if message["id"] == in_flight.pk:
                    message["content"] = snapshot.text
            turn = {
                "message_id": in_flight.pk,
                "seq": snapshot.seq,
                "resumed": snapshot.resumed,
                "tools": list(snapshot.tools),
            }
            self._follow(in_flight.pk, snapshot.seq)
        elif in_flight is not None:
            # Its log is out of reach: show the saved text, and start again when it is back.
            turn = {"message_id": in_flight.pk, "seq": 0, "resumed": False, "tools": []}
            self._unread = in_flight.pk
            self._recheck_later(in_flight.pk)
        await self._send(
            {
                "type": ServerFrame.HISTORY.value,
                "lesson": {"slug": self.lesson.slug, "title": self.lesson.title},
                "stage": state.stage_data,
                "messages": messages,
                "max_message_chars": settings.TUTOR_MAX_MESSAGE_CHARS,
                "turn": turn,
            }
        )
        return state

    async def _send_stage(self, position: StagePosition) -> None:
        """Where the learner is now; the browser reloads the lesson page to show it."""
        self.stage, self._stage_data = position.stage, position.data
        self.teaching = position.teaching
        await self._send({"type": ServerFrame.STAGE.value, "stage": position.data})

    def _remember(self, state: ChatState) -> None:
        self.stage = state.stage
        self.teaching = state.teaching
        self._stage_data = state.stage_data
        self._shown = {message.pk for message in state.messages}

    async def _resync(self) -> None:
        """Start again from a snapshot: the safe answer to anything unexpected."""
        await self._send_history(None)

    # --- following turns ---

    def _follow(self, turn_id: int, after_seq: int) -> None:
        self._following, self._seq = turn_id, after_seq
        self.engine.follow(self.subscription, turn_id, after_seq)

    def _stop_following(self) -> None:
        if self._following is not None:
            self.engine.unfollow(self.subscription, self._following)
            self._following = None

    def _turn_started(self, turn_id: int) -> None:
        if turn_id == self._following or turn_id in self._queued or turn_id in self._shown:
            return  # followed already, or in the history this socket has
        if self._following is None:
            self._follow(turn_id, 0)
            return
        # A turn starts only once the one before has ended, so that end is on its way;
        # if it does not come, the socket starts again from a snapshot.
        self._queued.append(turn_id)
        self._recheck_later(self._following)

    def _recheck_later(self, turn_id: int) -> None:
        async def recheck() -> None:
            await self.runtime.runner.clock.sleep(RECHECK_SECONDS)
            self.subscription.queue.put_nowait(_Recheck(turn_id))

        task = asyncio.get_running_loop().create_task(recheck())
        self._timers.add(task)
        task.add_done_callback(self._timers.discard)

    def _turn_ended(self) -> None:
        self._stop_following()
        if self._queued:
            self._follow(self._queued.popleft(), 0)

    async def _run_pump(self) -> None:
        while True:
            delivery = await self.subscription.queue.get()
            try:
                if isinstance(delivery, TurnEntries):
                    await self._deliver(delivery)
                elif isinstance(delivery, ConversationEvent):
                    await self._on_event(delivery.event)
                elif isinstance(delivery, EngineState):
                    await self._on_engine_state(delivery.available)
                elif isinstance(delivery, _Recheck) and self._still_waiting_on(delivery.turn_id):
                    await self._resync()
            except (DatabaseError, EngineUnavailable) as exc:
                logger.warning("Chat socket could not catch up: %s", exc)
            except Exception:
                # One bad delivery must not silence this socket for the rest of its life.
                logger.exception("Chat socket failed to pass on %r", delivery)

    def _still_waiting_on(self, turn_id: int) -> bool:
        """For the end of a turn that a newer one has followed, or for an unread log."""
        return turn_id == self._unread or (turn_id == self._following and bool(self._queued))

    async def _deliver(self, delivery: TurnEntries) -> None:
        if delivery.turn_id != self._following:
            return  # left over from before a resync
        for entry in delivery.entries:
            if entry.seq <= self._seq:
                continue
            if entry.seq != self._seq + 1:
                await self._resync()
                return
            self._seq = entry.seq
            if entry.shows is None or entry.shows not in self._shown:
                if entry.shows is not None:
                    self._shown.add(entry.shows)
                await self.send_text(self._localized(entry))
            if entry.ends_turn:
                self._turn_ended()
                return

    def _localized(self, entry: LogEntry) -> str:
        """The entry's frame as this socket's learner reads it (protocol.in_active_language)."""
        if entry.type != ServerFrame.ERROR:
            return entry.frame
        with translation.override(self.language or translation.get_language()):
            return in_active_language(entry.frame)

    async def _on_event(self, event) -> None:
        kind = event.get(feed.EVENT)
        if kind == feed.FeedEvent.TURN_STARTED:
            turn_id = int(event[feed.TURN])
            if not event.get(feed.SUPERSEDES):
                self._turn_started(turn_id)
            elif turn_id != self._following and turn_id not in self._shown:
                await self._resync()  # messages this socket shows were superseded
        elif kind == feed.FeedEvent.TURN_INTERRUPTED:
            turn_id = int(event[feed.TURN])
            if turn_id == self._following or turn_id in self._queued:
                await self._resync()
        elif kind == feed.FeedEvent.STAGE_CHANGED and event.get(feed.ORIGIN) != self.id:
            position = await database_call(chat.stage_position)(self.user, self.lesson)
            if position.data != self._stage_data:
                await self._send_stage(position)

    async def _on_engine_state(self, available: bool) -> None:
        if not available:
            if not self._paused:
                self._paused = True
                await self._send(live_paused_notice())
            return
        # Back: what happened meanwhile may not have reached this socket; start afresh.
        self._paused = False
        await self._resync()

    # --- frame handlers ---

    def _request(self, **kind: Any) -> TurnRequest:
        return TurnRequest(
            user=self.user,
            lesson=self.lesson,
            conversation=self.conversation,
            stage=self.stage,
            teaching=self.teaching,
            language=self.language,
            **kind,
        )

    async def _begin(self, request: TurnRequest, rejected: str | None) -> None:
        try:
            turn_id = await self.runtime.runner.begin(request, self.owner)
        except TurnInFlight:
            raise FrameError(FrameErrorCode.BUSY, BUSY_MESSAGE, rejected=rejected) from None
        except NothingToRetry:
            raise FrameError(
                FrameErrorCode.NOTHING_TO_RETRY, NOTHING_TO_RETRY_MESSAGE, rejected=rejected
            ) from None
        except NothingToEdit:
            raise FrameError(
                FrameErrorCode.NOTHING_TO_EDIT, NOTHING_TO_EDIT_MESSAGE, rejected=rejected
            ) from None
        except (EngineUnavailable, DatabaseError) as exc:
            logger.warning("A turn could not start: %s", exc)
            raise FrameError(
                FrameErrorCode.UNAVAILABLE, UNAVAILABLE_MESSAGE, rejected=rejected
            ) from None
        if turn_id is not None and not (request.edit or request.retry):
            self._turn_started(turn_id)
        # An edit or a retry may supersede messages on screen: this socket, like every
        # other, learns which from the turn's turn_started event (_on_event).

    async def _on_message(self, command: Command) -> None:
        await self._begin(self._request(content=command.content), rejected=command.type)

    async def _on_retry(self, command: Command) -> None:
        await self._begin(self._request(retry=True), rejected=command.type)

    async def _on_edit(self, command: Command) -> None:
        await self._begin(self._request(content=command.content, edit=True), rejected=command.type)

    async def _on_stop(self, command: Command) -> None:
        try:
            # The database knows which turn is in flight; what this socket follows may lag.
            turn_id = await database_call(chat.turn_in_flight)(self.conversation)
            if turn_id is None:
                raise FrameError(
                    FrameErrorCode.NOTHING_TO_STOP,
                    "No reply is in progress.",
                    rejected=command.type,
                )
            await self.runtime.runner.request_stop(turn_id)
        except (EngineUnavailable, DatabaseError):
            raise FrameError(
                FrameErrorCode.UNAVAILABLE, UNAVAILABLE_MESSAGE, rejected=command.type
            ) from None

    async def _on_advance(self, command: Command) -> None:
        try:
            position = await database_call(chat.advance_unless_busy)(
                self.user, self.lesson, self.conversation, from_stage_id=command.from_stage
            )
        except TurnInFlight:
            raise FrameError(FrameErrorCode.BUSY, BUSY_MESSAGE, rejected=command.type) from None
        except DatabaseError:
            raise FrameError(
                FrameErrorCode.UNAVAILABLE, UNAVAILABLE_MESSAGE, rejected=command.type
            ) from None
        # Answered even when nothing moved (a repeat): the browser reloads to where it is.
        await self._send_stage(position)
        self.runtime.runner.writer.announce(self.conversation.pk, feed.stage_changed(self.id))
        await self._open_stage()

    async def _open_stage(self) -> None:
        try:
            opening, message = await database_call(chat.open_stage)(self.conversation, self.stage)
        except DatabaseError as exc:
            logger.warning("Opening stage %s failed: %s", getattr(self.stage, "pk", None), exc)
            return
        if opening == Opening.AUTHORED:
            self._shown.add(message.pk)
            await self._send(
                {
                    "type": ServerFrame.MESSAGE.value,
                    "message": serialize_message(message, for_staff=self.for_staff),
                }
            )
        elif opening == Opening.TUTOR:
            try:
                await self._begin(self._request(opening=True), rejected=None)
            except FrameError as exc:
                if exc.code != FrameErrorCode.BUSY:  # busy: another tab is opening it
                    await self._send(exc.as_frame())
