"""The turn engine across processes, on Redis Streams.

Keys, all under ``TUTOR_REDIS_PREFIX``:

- ``turn:<reply id>``: the turn's log, a stream whose entry ids are the frame
  numbers (``7-0`` is frame 7). A small Lua script appends an entry only when it
  is the stream's next number and answers the stream's top, so a batch sent twice
  is harmless, only one writer's frame 7 can exist, and a log that Redis lost
  (a restart) is written again from its start rather than with a hole.
  It expires ``TUTOR_TURN_LOG_RETENTION_SECONDS`` after the turn ends.
- ``feed``: every conversation's events (a turn started, was interrupted, the stage
  changed), one capped stream whose entries name their conversation. Every process
  reads all of it and hands each event to its own sockets of that conversation, so a
  socket opening or closing changes nothing in Redis or in what the reader asks for.
- ``control``: stop requests, read by every process; the one running the turn acts.
- ``runner:<id>``: a runner's heartbeat, with a time to live.
- ``wake:<runner id>``: written to wake this process's reader when it must read a
  turn's log it did not read before (a socket follows a turn running elsewhere).

Each process has **one** reader task that blocks in a single ``XREAD`` over the
feed, the stop requests and the logs of turns its sockets follow from other
processes, from the lowest cursor on each, and hands what comes back to the
fan-out. So a thousand idle sockets cost one Redis connection and a three-key
``XREAD``, not a thousand of either. Nothing here goes through the channel layer,
whose ``group_send`` is at-most-once and drops messages when full.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Coroutine, Iterable, Mapping, Sequence
from typing import Any

from django.conf import settings
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError, ResponseError

from lessons_app.tutor.engines.base import EngineUnavailable, LogEntry, TurnEngine

logger = logging.getLogger(__name__)

# How long the reader's XREAD blocks before it asks again (an idle loop, not a delay).
BLOCK_MS = 5_000
# Most entries one XREAD returns per stream; more simply come in the next read.
READ_COUNT = 1_000
# A turn's log lives at least this long while the turn runs (a crashed runner's is dropped).
LIVE_LOG_TTL_SECONDS = 24 * 3600
# The feed's length (trimmed approximately): far more events than a reader falls behind
# by while it is connected; one that was cut off resynchronises its sockets anyway.
FEED_MAX_EVENTS = 10_000
CONTROL_MAX_REQUESTS = 1_000
WAKE_TTL_SECONDS = 600
# The reader's pause after a failed read, doubling up to the cap while Redis is down.
RETRY_FIRST_SECONDS = 0.1
RETRY_MAX_SECONDS = 2.0
# Timeouts for ordinary commands; the blocking reader waits BLOCK_MS beyond its own.
COMMAND_TIMEOUT_SECONDS = 5.0
CONNECT_TIMEOUT_SECONDS = 2.0

_BACKEND_ERRORS = (RedisError, OSError)
# How long a cancelled task gets to finish before it is cancelled again (see _cancel_until_done).
CANCEL_AGAIN_AFTER_SECONDS = 1.0


async def _cancel_until_done(tasks: Sequence[asyncio.Task]) -> None:
    """Cancel ``tasks`` and wait for them, cancelling again any that absorbed the request.

    A cancel that reaches redis-py's reply reader in the wrong step can be absorbed: the
    task then waits on its socket again, and a plain ``gather`` would wait for ever (seen
    as a shutdown that never ends). Each round cancels what is still running.
    """
    pending = [task for task in tasks if not task.done()]
    while pending:
        for task in pending:
            task.cancel()
        await asyncio.wait(pending, timeout=CANCEL_AGAIN_AFTER_SECONDS)
        pending = [task for task in pending if not task.done()]
    for task in tasks:
        if not task.cancelled() and task.exception() is not None:
            logger.debug("A Redis engine task ended with %r", task.exception())


# KEYS[1]: a turn's log. ARGV[1]: seconds to live, then per entry: number, type, frame,
# shown message id (or ""). Appends each entry that is the log's next number, stops at
# one that would leave a gap, and answers the newest number in the log.
APPEND_TO_LOG = """
local top = 0
local newest = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
if newest[1] then
  top = tonumber(string.match(newest[1][1], '^%d+'))
end
for i = 2, #ARGV, 4 do
  local seq = tonumber(ARGV[i])
  if seq == top + 1 then
    if ARGV[i + 3] == '' then
      redis.call('XADD', KEYS[1], seq .. '-0', 't', ARGV[i + 1], 'f', ARGV[i + 2])
    else
      redis.call('XADD', KEYS[1], seq .. '-0', 't', ARGV[i + 1], 'f', ARGV[i + 2],
                 'm', ARGV[i + 3])
    end
    top = seq
  elseif seq > top + 1 then
    break
  end
end
if top > 0 then
  redis.call('EXPIRE', KEYS[1], ARGV[1])
end
return top
"""


def _seq(entry_id: str) -> int:
    return int(entry_id.partition("-")[0])


def _script_args(entries: Sequence[LogEntry]) -> list[str | int]:
    args: list[str | int] = [LIVE_LOG_TTL_SECONDS]
    for entry in entries:
        args += [entry.seq, entry.type, entry.frame, "" if entry.shows is None else entry.shows]
    return args


def _entry_from(entry_id: str, fields: Mapping[str, str]) -> LogEntry:
    shows = fields.get("m")
    return LogEntry(_seq(entry_id), fields["t"], fields["f"], int(shows) if shows else None)


class RedisEngine(TurnEngine):
    name = "redis"

    def __init__(self, *, runner_id: str, url: str | None = None, prefix: str | None = None):
        super().__init__(runner_id=runner_id)
        self._url = url or settings.REDIS_URL
        self._prefix = prefix or settings.TUTOR_REDIS_PREFIX
        # We retry ourselves (the writer and the reader loop), so redis-py must not.
        options = {
            "decode_responses": True,
            "socket_connect_timeout": CONNECT_TIMEOUT_SECONDS,
            "retry": Retry(NoBackoff(), 0),
        }
        self._client = Redis.from_url(self._url, socket_timeout=COMMAND_TIMEOUT_SECONDS, **options)
        self._reader = Redis.from_url(
            self._url, socket_timeout=BLOCK_MS / 1000 + COMMAND_TIMEOUT_SECONDS, **options
        )
        self._wake_key = self._key("wake", runner_id)
        self._control_key = self._key("control")
        self._wake_cursor = "0-0"
        self._control_cursor = "0-0"
        # None until read: the feed's newest entry when this process started.
        self._feed_cursor: str | None = None
        self._wake_pending = False
        self._reader_task: asyncio.Task | None = None
        self._background: set[asyncio.Task] = set()
        self._append_to_log = self._client.register_script(APPEND_TO_LOG)

    def _key(self, *parts: object) -> str:
        return ":".join((self._prefix, *map(str, parts)))

    def turn_key(self, turn_id: int) -> str:
        return self._key("turn", turn_id)

    @property
    def feed_key(self) -> str:
        return self._key("feed")

    def runner_key(self, runner_id: str) -> str:
        return self._key("runner", runner_id)

    # --- lifecycle ---

    async def start(self, *, on_stop, on_state) -> None:
        await super().start(on_stop=on_stop, on_state=on_state)
        # Stop requests and events older than this process are not ours; read those that
        # follow. (Redis down: stop requests from the start once it is back, events from
        # then on, which is when every socket resynchronises anyway.)
        with contextlib.suppress(*_BACKEND_ERRORS):
            self._control_cursor = await self._last_id(self._control_key)
            self._feed_cursor = await self._last_id(self.feed_key)
        self._reader_task = asyncio.get_running_loop().create_task(
            self._read_forever(), name="tutor-redis-reader"
        )

    async def close(self) -> None:
        tasks = [task for task in (self._reader_task, *self._background) if task is not None]
        await _cancel_until_done(tasks)
        self._reader_task = None
        for client in (self._client, self._reader):
            with contextlib.suppress(*_BACKEND_ERRORS):
                await client.aclose()

    async def health(self) -> str:
        try:
            await asyncio.wait_for(self._client.ping(), COMMAND_TIMEOUT_SECONDS)
        except (*_BACKEND_ERRORS, TimeoutError) as exc:
            return f"error: {type(exc).__name__}"
        return "ok"

    async def _last_id(self, key: str) -> str:
        newest = await self._client.xrevrange(key, count=1)
        return newest[0][0] if newest else "0-0"

    # --- the log ---

    async def append(
        self,
        logs: Mapping[int, Sequence[LogEntry]],
        *,
        seal: Iterable[int] = (),
        announcements: Sequence[tuple[int, Mapping[str, Any]]] = (),
    ) -> dict[int, int]:
        seal = tuple(seal)
        try:
            if len(logs) == 1 and not seal and not announcements:
                # The usual case while one turn streams: a single script call, no pipeline.
                [(turn_id, entries)] = logs.items()
                try:
                    results = [
                        await self._append_to_log(
                            keys=[self.turn_key(turn_id)], args=_script_args(entries)
                        )
                    ]
                except ResponseError as exc:
                    results = [exc]
            else:
                results = await self._append_in_pipeline(logs, seal, announcements)
        except _BACKEND_ERRORS as exc:
            raise EngineUnavailable(str(exc)) from exc
        tops = {}
        for turn_id, result in zip(logs, results, strict=False):
            if isinstance(result, Exception):
                logger.warning("Appending to the log of turn %s failed: %s", turn_id, result)
                tops[turn_id] = -1
            else:
                tops[turn_id] = int(result)
        return tops

    async def _append_in_pipeline(self, logs, seal, announcements) -> list[Any]:
        """One round trip: the logs' scripts first (their answers first), then the rest."""
        async with self._client.pipeline(transaction=False) as pipe:
            for turn_id, entries in logs.items():
                # Queues the call in the pipeline (awaited only to register the script).
                await self._append_to_log(
                    keys=[self.turn_key(turn_id)], args=_script_args(entries), client=pipe
                )
            for turn_id in seal:
                pipe.expire(self.turn_key(turn_id), settings.TUTOR_TURN_LOG_RETENTION_SECONDS)
            for conversation_id, event in announcements:
                pipe.xadd(
                    self.feed_key,
                    {"c": conversation_id, "e": json.dumps(dict(event))},
                    maxlen=FEED_MAX_EVENTS,
                )
            results = await pipe.execute(raise_on_error=False)
        for result in results[len(logs) :]:
            if isinstance(result, Exception):
                logger.warning("Sealing a log or announcing an event failed: %s", result)
        return results

    async def _read_log(self, turn_id: int) -> list[LogEntry]:
        try:
            items = await self._client.xrange(self.turn_key(turn_id))
        except _BACKEND_ERRORS as exc:
            raise EngineUnavailable(str(exc)) from exc
        return [_entry_from(entry_id, fields) for entry_id, fields in items]

    # --- feeds, stops, liveness ---

    async def request_stop(self, turn_id: int) -> None:
        try:
            await self._client.xadd(
                self._control_key, {"stop": turn_id}, maxlen=CONTROL_MAX_REQUESTS
            )
        except _BACKEND_ERRORS as exc:
            raise EngineUnavailable(str(exc)) from exc

    async def beat(self) -> None:
        try:
            await self._client.set(
                self.runner_key(self.runner_id),
                "1",
                ex=max(1, round(settings.TUTOR_RUNNER_STALE_SECONDS)),
            )
        except _BACKEND_ERRORS as exc:
            raise EngineUnavailable(str(exc)) from exc

    async def alive_runners(self, runner_ids: set[str]) -> set[str]:
        if not runner_ids:
            return set()
        ordered = sorted(runner_ids)
        try:
            values = await self._client.mget([self.runner_key(runner) for runner in ordered])
        except _BACKEND_ERRORS as exc:
            raise EngineUnavailable(str(exc)) from exc
        return {runner for runner, value in zip(ordered, values, strict=True) if value}

    # --- subscriptions and the reader ---

    def _log_to_read(self, turn_id: int) -> None:
        if self._wake_pending or self._reader_task is None:
            return
        self._wake_pending = True
        self._spawn(self._wake())

    async def _wake(self) -> None:
        with contextlib.suppress(*_BACKEND_ERRORS):
            async with self._client.pipeline(transaction=False) as pipe:
                pipe.xadd(self._wake_key, {"w": 1}, maxlen=10)
                pipe.expire(self._wake_key, WAKE_TTL_SECONDS)
                await pipe.execute()

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _streams(self) -> tuple[dict[str, str], dict[str, int]]:
        """What the next XREAD asks for (once the feed's cursor is known), and the turn
        each log's key is of.

        Turns come before the feed: Redis answers in this order, so a turn's last entry
        is handed on before a feed event about that turn written after it.
        """
        streams = {self._wake_key: self._wake_cursor, self._control_key: self._control_cursor}
        turns: dict[str, int] = {}
        for turn_id, cursor in self.fanout.followed_turns().items():
            if turn_id in self._running:
                continue  # served from this process's own entries
            key = self.turn_key(turn_id)
            streams[key] = f"{cursor}-0"
            turns[key] = turn_id
        streams[self.feed_key] = self._feed_cursor
        return streams, turns

    async def _read_forever(self) -> None:
        pause = RETRY_FIRST_SECONDS
        while True:
            try:
                if self._feed_cursor is None:
                    self._feed_cursor = await self._last_id(self.feed_key)
                streams, turns = self._streams()
                self._wake_pending = False
                response = await self._reader.xread(streams, count=READ_COUNT, block=BLOCK_MS)
            except _BACKEND_ERRORS as exc:
                if self.available:
                    logger.warning("Redis turn engine unavailable: %s", exc)
                self._set_available(False)
                await asyncio.sleep(pause)
                pause = min(pause * 2, RETRY_MAX_SECONDS)
                continue
            if not self.available:
                logger.info("Redis turn engine available again")
            self._set_available(True)
            pause = RETRY_FIRST_SECONDS
            for key, items in response or ():
                try:
                    self._dispatch(key, items, turns.get(key))
                except Exception:
                    # One malformed entry must not end the one reader of this process.
                    logger.exception("Could not hand on what Redis returned for %s", key)

    def _dispatch(
        self, key: str, items: list[tuple[str, dict[str, str]]], turn: int | None
    ) -> None:
        if not items:
            return
        last_id = items[-1][0]
        if key == self._wake_key:
            self._wake_cursor = last_id
        elif key == self._control_key:
            self._control_cursor = last_id
            for _, fields in items:
                with contextlib.suppress(KeyError, ValueError):
                    self._on_stop(int(fields["stop"]))
        elif key == self.feed_key:
            self._feed_cursor = last_id
            for _, fields in items:
                with contextlib.suppress(KeyError, ValueError):
                    self.fanout.publish_event(int(fields["c"]), json.loads(fields["e"]))
        elif turn is not None:
            self.fanout.publish_turn(turn, [_entry_from(i, f) for i, f in items])
