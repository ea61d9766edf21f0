"""The turn engine inside one process: the default for `make run`, with no Redis.

Logs are lists, feeds and stop requests are direct calls. It has the same
semantics as the Redis engine within its process, and refuses to serve a
database another process already serves with it (see ``process_lock``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from django.conf import settings

from lessons_app.tutor.engines.base import LogEntry, Subscription, TurnEngine
from lessons_app.tutor.engines.process_lock import hold_database_lock


class MemoryEngine(TurnEngine):
    name = "memory"
    single_process = True

    def __init__(self, *, runner_id: str) -> None:
        super().__init__(runner_id=runner_id)
        self._logs: dict[int, list[LogEntry]] = {}
        self._expiries: dict[int, asyncio.TimerHandle] = {}

    @classmethod
    def check_configuration(cls) -> None:
        hold_database_lock(settings.DATABASES["default"])

    async def close(self) -> None:
        for handle in self._expiries.values():
            handle.cancel()
        self._expiries.clear()

    async def health(self) -> str:
        return "ok"

    async def append(
        self,
        logs: Mapping[int, Sequence[LogEntry]],
        *,
        seal: Iterable[int] = (),
        announcements: Sequence[tuple[int, Mapping[str, Any]]] = (),
    ) -> dict[int, int]:
        tops = {}
        for turn_id, entries in logs.items():
            log = self._logs.setdefault(turn_id, [])
            fresh = []
            for entry in entries:
                # The next number only: a repeat (or another writer's number) is skipped.
                if entry.seq == len(log) + 1:
                    log.append(entry)
                    fresh.append(entry)
            if fresh:
                self.fanout.publish_turn(turn_id, fresh)
            tops[turn_id] = len(log)
        loop = asyncio.get_running_loop()
        for turn_id in seal:
            if turn_id not in self._expiries:
                self._expiries[turn_id] = loop.call_later(
                    settings.TUTOR_TURN_LOG_RETENTION_SECONDS, self._forget, turn_id
                )
        for conversation_id, event in announcements:
            self.fanout.publish_event(conversation_id, event)
        return tops

    def _forget(self, turn_id: int) -> None:
        self._logs.pop(turn_id, None)
        self._expiries.pop(turn_id, None)

    async def _read_log(self, turn_id: int) -> list[LogEntry]:
        return list(self._logs.get(turn_id, ()))

    async def request_stop(self, turn_id: int) -> None:
        self._on_stop(turn_id)

    async def beat(self) -> None:
        """Nothing to tell: the one process is alive for as long as it can ask."""

    async def alive_runners(self, runner_ids: set[str]) -> set[str]:
        return runner_ids & {self.runner_id}

    def follow(self, subscription: Subscription, turn_id: int, after_seq: int) -> None:
        super().follow(subscription, turn_id, after_seq)
        # What is written already comes first; later appends reach the fan-out directly.
        self.fanout.deliver(subscription, turn_id, self._logs.get(turn_id, ()))
