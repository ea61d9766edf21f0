"""This process's turn runner: starts turns, stops them, checkpoints them, sweeps dead ones.

Turns run in the process whose socket received the learner's frame, owned by the
runner rather than by the socket: the reply goes on when the socket closes, and
any socket of the learner, in any process, follows it through the engine. Every
``TUTOR_CHECKPOINT_SECONDS`` the runner saves the partial text of all its turns in
one UPDATE (which is also their heartbeat) and beats in the engine; every
``TUTOR_SWEEP_SECONDS``, and once at start-up, it finishes turns whose runner has
died as ``interrupted`` (see ``lessons_app.tutor.sweep``).

Why here and not in a worker pool fed by a queue: the first token is not delayed
by a queue hop, ``make run`` stays one process, and nothing more needs deploying.
What a pool would add, surviving the death of the process that runs the turn,
the sweep gives in the form learners can use: the checkpointed text, marked
interrupted, with Retry (a turn re-run elsewhere would bill the model twice and
splice two replies).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError

from lessons_app import moderation_flags
from lessons_app.reply_errors import ReplyErrorCode
from lessons_app.tutor import feed, snapshot, sweep, turns
from lessons_app.tutor.clock import Clock
from lessons_app.tutor.database import database_call
from lessons_app.tutor.engines.base import EngineUnavailable, TurnEngine
from lessons_app.tutor.loop_share import LoopShare
from lessons_app.tutor.turn import RunningTurn, TurnOwner, ended_by, log_entry, record_reply
from lessons_app.tutor.turns import StreamingRow, TurnRequest
from lessons_app.tutor.writer import LogWriter

logger = logging.getLogger(__name__)


def new_runner_id() -> str:
    """Unique per process start, and readable in the database: host, pid, a random part."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class TurnRunner:
    def __init__(self, engine: TurnEngine, *, clock: Clock) -> None:
        self.engine = engine
        self.runner_id = engine.runner_id
        self.clock = clock
        self.writer = LogWriter(engine, clock)
        # Every turn of the process gives way after each chunk, and all measure the lag.
        self.loop_share = LoopShare(clock)
        self._turns: dict[int, RunningTurn] = {}
        # Set while no turn runs here: what a worker replaced by a deploy waits for.
        self._no_turns = asyncio.Event()
        self._no_turns.set()
        self._loops: list[asyncio.Task] = []
        self._stale_after = timedelta(seconds=settings.TUTOR_RUNNER_STALE_SECONDS)

    # --- lifecycle ---

    async def start(self) -> None:
        await self.engine.start(on_stop=self._stop_requested, on_state=self._engine_state)
        self.writer.start()
        with contextlib.suppress(EngineUnavailable):
            await self.engine.beat()
        await self.sweep_once()
        loop = asyncio.get_running_loop()
        self._loops = [
            loop.create_task(self._every(settings.TUTOR_CHECKPOINT_SECONDS, self.checkpoint_once)),
            # Apart from the checkpoints, so that a slow database does not stop the beat.
            loop.create_task(self._every(settings.TUTOR_CHECKPOINT_SECONDS, self.beat_once)),
            loop.create_task(self._every(settings.TUTOR_SWEEP_SECONDS, self.sweep_once)),
        ]

    async def close(self, *, grace_seconds: float = 5.0) -> None:
        """Stop the loops, end running turns as interrupted (saved), release the engine."""
        for task in self._loops:
            task.cancel()
        await asyncio.gather(*self._loops, return_exceptions=True)
        running = list(self._turns.values())
        for turn in running:
            turn.end(ReplyErrorCode.INTERRUPTED)
        if running:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(grace_seconds):
                    await asyncio.gather(*(turn.wait() for turn in running))
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(grace_seconds):
                await self.writer.flushed()
        await self.writer.close()
        await self.engine.close()

    async def _every(self, seconds: float, step: Callable[[], Awaitable[None]]) -> None:
        while True:
            await self.clock.sleep(seconds)
            try:
                await step()
            except Exception:
                logger.exception("Turn runner step %s failed", step.__name__)

    # --- turns ---

    async def begin(self, request: TurnRequest, owner: TurnOwner) -> int | None:
        """Start a turn for ``request``; its id, or ``None`` if there was nothing to open.

        Raises ``TurnInFlight`` or ``NothingToRetry`` (see ``turns.open_turn``),
        ``EngineUnavailable`` while the engine is down (nothing saved), and the
        database's own errors.
        """
        if not self.engine.available:
            raise EngineUnavailable("the turn engine is unavailable")
        started_at = self.clock.monotonic()
        opened = await database_call(turns.open_turn)(
            request, runner_id=self.runner_id, now=self.clock.now()
        )
        if opened is None:
            return None
        turn = RunningTurn(
            request,
            opened,
            owner,
            writer=self.writer,
            clock=self.clock,
            loop_share=self.loop_share,
            started_at=started_at,
            on_done=self._forget,
        )
        self._turns[turn.reply_id] = turn
        self._no_turns.clear()
        self.engine.running_here(turn.reply_id, turn.entries)
        turn.start()
        # After the turn has started, in a task of its own: the reply never waits for it.
        moderation_flags.start_check(opened.user_message, opened.provider)
        return turn.reply_id

    def _forget(self, turn: RunningTurn) -> None:
        # The engine serves it from memory until the writer has all of it in the log.
        self._turns.pop(turn.reply_id, None)
        if not self._turns:
            self._no_turns.set()

    async def turns_finished(self) -> None:
        """Wait until no turn runs in this process (each has saved its reply)."""
        await self._no_turns.wait()

    async def request_stop(self, turn_id: int) -> None:
        """Stop turn ``turn_id`` wherever it runs: here at once, elsewhere through the engine."""
        turn = self._turns.get(turn_id)
        if turn is not None:
            turn.end(ReplyErrorCode.STOPPED)
        else:
            await self.engine.request_stop(turn_id)

    def _stop_requested(self, turn_id: int) -> None:
        turn = self._turns.get(turn_id)
        if turn is not None:
            turn.end(ReplyErrorCode.STOPPED)

    def _engine_state(self, available: bool) -> None:
        if available:
            # Redis may have restarted empty: the writer finds out and sends the logs again.
            self.writer.recheck()

    # --- periodic steps ---

    async def checkpoint_once(self) -> None:
        """Save every live turn's new text and heartbeat in one UPDATE."""
        live = [turn for turn in self._turns.values() if not turn.finishing]
        if not live:
            return  # an idle process costs the database nothing
        texts = {t.reply_id: t.text for t in live if t.text_length != t.checkpointed_length}
        try:
            streaming = await database_call(turns.checkpoint)(
                texts, [turn.reply_id for turn in live], self.clock.now()
            )
        except DatabaseError as exc:
            logger.warning("Checkpointing %d turns failed: %s", len(live), exc)
        else:
            for turn in live:
                if turn.reply_id not in streaming:
                    turn.end(ReplyErrorCode.INTERRUPTED, taken_over=True)
                elif turn.reply_id in texts:
                    turn.checkpointed_length = len(texts[turn.reply_id])

    async def beat_once(self) -> None:
        """Say in the engine that this process's runner is alive."""
        with contextlib.suppress(EngineUnavailable):
            await self.engine.beat()

    async def sweep_once(self) -> None:
        """Finish as interrupted every turn in flight whose runner has died."""
        try:
            rows = await database_call(turns.streaming_rows)()
        except DatabaseError as exc:
            logger.warning("Sweeping turns failed: %s", exc)
            return
        others = {row.runner_id for row in rows if row.runner_id != self.runner_id}
        # If the engine cannot tell who is alive, sweep nobody else's turns for now.
        alive = others
        if others and not self.engine.single_process:
            with contextlib.suppress(EngineUnavailable):
                alive = await self.engine.alive_runners(others)
        liveness = sweep.Liveness(
            runner_id=self.runner_id,
            running=set(self._turns),
            alive_runners=alive,
            single_process=self.engine.single_process,
            now=self.clock.now(),
            stale_after=self._stale_after,
        )
        for row in liveness.dead(rows):
            await self._interrupt(row)

    async def _interrupt(self, row: StreamingRow) -> None:
        try:
            entries = await self.engine.read(row.pk)
        except EngineUnavailable:
            entries = []
        log = snapshot.contiguous(entries)
        content = sweep.recovered_text(row.content, snapshot.text_of(log))
        result, last_frame = ended_by(ReplyErrorCode.INTERRUPTED)
        interrupted = await database_call(turns.interrupt)(
            row, content=content, error_code=result.error_code
        )
        if interrupted is None:
            return
        logger.warning(
            "Turn %s of runner %s had no heartbeat; finished as interrupted", row.pk, row.runner_id
        )
        if log and len(log) == len(entries) and not log[-1].ends_turn:
            # Followers read on to the end the dead runner never wrote.
            top = log[-1].seq
            self.writer.open(row.pk, [log_entry(row.pk, top + 1, last_frame)], written=top)
            self.writer.end(row.pk)
        # And every socket still following it (the log may have a hole, or be gone) starts
        # again from a snapshot, which now shows the reply interrupted.
        self.writer.announce(row.conversation_id, feed.turn_interrupted(row.pk))
        record_reply(interrupted, user_id=row.user_id, lesson_slug=row.lesson_slug)
