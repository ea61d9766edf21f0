"""Idle sockets: learners that keep a lesson open and reconnect like chat.js when dropped.

Each socket waits for nothing but its own close; then it reconnects with chat.js's
backoff (RECONNECT_FIRST / RECONNECT_MAX, half to all of the doubled delay, at random;
within 0.1 s of a close with 1012, a replaced worker's), asking the lesson page after a
failed handshake once two attempts have failed, as chat.js does. The times
of each socket's first ``history`` after a close are what ``reconnected`` reports.
"""

from __future__ import annotations

import asyncio
import collections
import random
import statistics
import time
from dataclasses import dataclass
from typing import Any

import aiohttp

from bench.load.config import CONNECT_CONCURRENCY
from bench.load.sockets import lesson_url, new_browser, open_chat

# lessons_app/static/lessons/chat.js
RECONNECT_FIRST_SECONDS = 0.5
RECONNECT_MAX_SECONDS = 15.0
CHECK_PAGE_AFTER_ATTEMPTS = 2
# A close with 1012 (a replaced worker's, tutor_project/serve/drain.py): back at once.
SERVICE_RESTART = 1012
SERVICE_RESTART_JITTER_SECONDS = 0.1
POLL_SECONDS = 0.05
SOCKET_ERRORS = (aiohttp.ClientError, TimeoutError, ValueError, OSError)


def backoff(attempts: int) -> float:
    base = min(RECONNECT_MAX_SECONDS, RECONNECT_FIRST_SECONDS * 2**attempts)
    return base / 2 + random.random() * base / 2


@dataclass
class Keeper:
    base_url: str
    cookie: str
    opened_at: float | None = None
    closed_at: float | None = None
    reopened_at: float | None = None
    # The successful reconnect alone: from its handshake to its history, backoff left out.
    reopen_seconds: float | None = None
    attempts: int = 0
    # Attempts since the last close, failed or not (attempts goes back to 0 on a history).
    tries: int = 0
    # Whether the last failed attempt failed before the server answered its handshake.
    handshake_failed: bool = False


class Pool:
    def __init__(self) -> None:
        self.browser = new_browser()
        self.keepers: list[Keeper] = []
        self.tasks: list[asyncio.Task] = []
        self.gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
        # Failed attempts to open a socket, by kind of failure.
        self.failures: collections.Counter[str] = collections.Counter()

    async def _check_page(self, keeper: Keeper) -> None:
        try:
            async with self.browser.get(
                lesson_url(keeper.base_url),
                headers={"Cookie": keeper.cookie},
                allow_redirects=False,
            ) as response:
                await response.read()
        except SOCKET_ERRORS:
            pass  # offline: chat.js connects anyway

    async def _hold(self, keeper: Keeper, chat: aiohttp.ClientWebSocketResponse) -> bool:
        """Until the server closes the socket; then note when. Whether it closed with
        1012, after which chat.js comes back at once."""
        async for _ in chat:
            pass
        keeper.closed_at = time.monotonic()
        keeper.reopened_at = None
        keeper.tries = 0
        return chat.close_code == SERVICE_RESTART

    async def keep(self, keeper: Keeper) -> None:
        async with self.gate:  # the first open only: a page load, not a reconnect storm
            chat = await self._try_open(keeper)
        while True:
            restarted = False
            if chat is not None:
                keeper.attempts = 0
                restarted = await self._hold(keeper, chat)
            if restarted:
                await asyncio.sleep(random.random() * SERVICE_RESTART_JITTER_SECONDS)
            else:
                await asyncio.sleep(backoff(keeper.attempts))
                keeper.attempts += 1
            chat = await self._try_open(keeper)
            failed = chat is None and keeper.handshake_failed
            if failed and keeper.attempts >= CHECK_PAGE_AFTER_ATTEMPTS:
                await self._check_page(keeper)

    async def _try_open(self, keeper: Keeper) -> aiohttp.ClientWebSocketResponse | None:
        started = time.monotonic()
        keeper.tries += 1
        try:
            chat, _ = await open_chat(self.browser, keeper.base_url, keeper.cookie)
        except SOCKET_ERRORS as error:
            self.failures[type(error).__name__] += 1
            # A socket closed before its history (ValueError) had its handshake answered.
            keeper.handshake_failed = not isinstance(error, ValueError)
            return None
        now = time.monotonic()
        if keeper.opened_at is None:
            keeper.opened_at = now
        else:
            keeper.reopened_at, keeper.reopen_seconds = now, now - started
        return chat


_pool: Pool | None = None


async def _wait_for(done, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(POLL_SECONDS)
    return True


async def open_sockets(request: dict[str, Any]) -> dict[str, Any]:
    """Open one socket per cookie, spread evenly over ``targets``; answer once all are open
    or ``timeout`` seconds have passed (those not open yet go on trying)."""
    global _pool
    _pool = Pool()
    targets, started = request["targets"], time.monotonic()
    for n, cookie in enumerate(request["cookies"]):
        keeper = Keeper(targets[n % len(targets)], cookie)
        _pool.keepers.append(keeper)
        _pool.tasks.append(asyncio.create_task(_pool.keep(keeper)))
    await _wait_for(lambda: all(k.opened_at for k in _pool.keepers), request["timeout"])
    return {
        "opened": sum(k.opened_at is not None for k in _pool.keepers),
        "seconds": time.monotonic() - started,
    }


async def reconnected(request: dict[str, Any]) -> dict[str, Any]:
    """Once every socket closed since ``since`` has its history again, or ``timeout``
    seconds have passed: how many did, when, and what the others were doing.

    Times are ``time.monotonic()`` readings, the same clock for every process on the
    machine, so the orchestrator can compare them with its own.
    """
    since = request["since"]

    def back(keeper: Keeper) -> bool:
        closed = keeper.closed_at is not None and keeper.closed_at >= since
        return closed and keeper.reopened_at is not None

    await _wait_for(lambda: all(back(k) for k in _pool.keepers), request["timeout"])
    returned = [k for k in _pool.keepers if back(k)]
    times = [k.reopened_at for k in returned]
    handshakes = [k.reopen_seconds for k in returned]
    # How long each learner's chat was away: from its close to its history again.
    outages = [k.reopened_at - k.closed_at for k in returned]
    others = [k for k in _pool.keepers if not back(k)]
    return {
        "reconnected": len(returned),
        "never_closed": sum(k.closed_at is None or k.closed_at < since for k in others),
        "first_closed_at": min((k.closed_at for k in returned), default=None),
        "last_history_at": max(times, default=None),
        "outage_max_seconds": max(outages, default=None),
        "outage_median_seconds": statistics.median(outages) if outages else None,
        "median_history_at": statistics.median(times) if times else None,
        "handshake_max_seconds": max(handshakes, default=None),
        "handshake_median_seconds": statistics.median(handshakes) if handshakes else None,
        "tries_max": max((k.tries for k in returned), default=None),
        "failures": dict(_pool.failures),
    }


async def close_sockets(request: dict[str, Any]) -> dict[str, Any]:
    global _pool
    for task in _pool.tasks:
        task.cancel()
    await asyncio.gather(*_pool.tasks, return_exceptions=True)
    await _pool.browser.close()
    _pool = None
    return {"closed": True}
