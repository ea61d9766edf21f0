"""The turn runtime of this process: its engine and runner, started once, before any socket.

``tutor_project/asgi.py`` checks the configuration first thing
(``engines.check_configuration``, so a server that must not start refuses to) and
wraps the application in :class:`TurnRuntimeMiddleware`, which starts the runtime on
the first connection (or on ASGI ``lifespan`` startup, for servers that send it) and
so runs the start-up sweep before anything is served; it also bounds the threads
LiteLLM may use in the loop (``llm_app.worker_threads``). One runtime per event loop:
Daphne has one; each async test has its own.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from dataclasses import dataclass

from django.conf import settings

from lessons_app.tutor import database
from lessons_app.tutor.clock import Clock, SystemClock
from lessons_app.tutor.engines import engine_class
from lessons_app.tutor.engines.base import TurnEngine
from lessons_app.tutor.runner import TurnRunner, new_runner_id
from llm_app.worker_threads import limit_worker_threads

logger = logging.getLogger(__name__)


@dataclass
class Runtime:
    runner: TurnRunner

    @property
    def engine(self) -> TurnEngine:
        return self.runner.engine

    async def close(self) -> None:
        await self.runner.close()
        await database.aclose_connections()


_runtimes: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Task[Runtime]] = (
    weakref.WeakKeyDictionary()
)


async def _start(clock: Clock) -> Runtime:
    limit_worker_threads(settings.TUTOR_LLM_THREADS)
    engine = engine_class()(runner_id=new_runner_id())
    runner = TurnRunner(engine, clock=clock)
    await runner.start()
    logger.info("Turn runtime started: engine=%s runner=%s", engine.name, runner.runner_id)
    return Runtime(runner)


async def get_runtime(clock: Clock | None = None) -> Runtime:
    """This event loop's runtime, started on first use (concurrent first callers share it)."""
    running = current_runtime()
    if running is not None:
        return running  # every request after the first: a lookup, no new future
    loop = asyncio.get_running_loop()
    starting = _runtimes.get(loop)
    if starting is None:
        starting = loop.create_task(_start(clock or SystemClock()), name="tutor-runtime-start")
        _runtimes[loop] = starting
    try:
        return await asyncio.shield(starting)
    except Exception:
        if _runtimes.get(loop) is starting:
            del _runtimes[loop]
        raise


def current_runtime() -> Runtime | None:
    """This event loop's runtime if it has started, without starting one."""
    try:
        starting = _runtimes.get(asyncio.get_running_loop())
    except RuntimeError:
        return None
    if starting is None or not starting.done() or starting.cancelled() or starting.exception():
        return None
    return starting.result()


async def shutdown_runtime() -> None:
    """Close this event loop's runtime (turns in flight end as interrupted, saved)."""
    starting = _runtimes.pop(asyncio.get_running_loop(), None)
    if starting is None:
        return
    try:
        runtime = await starting
    except Exception:  # noqa: BLE001 - it never started; nothing to close
        return
    await runtime.close()


async def turns_finished() -> None:
    """Wait until this event loop's runtime runs no turn (at once if it has not started).

    A worker replaced by a deploy waits for this after closing its sockets: its turns'
    pages follow them from the new workers, and a turn that finishes is not interrupted.
    """
    runtime = current_runtime()
    if runtime is not None:
        await runtime.runner.turns_finished()


async def engine_health() -> str:
    """The engine's health for /healthz: the running one's, or a throwaway probe's."""
    runtime = current_runtime()
    if runtime is not None:
        return await runtime.engine.health()
    engine = engine_class()(runner_id="healthz-probe")
    try:
        return await engine.health()
    finally:
        await engine.close()


class TurnRuntimeMiddleware:
    """ASGI middleware: the runtime is up before the first request or socket is handled."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        await get_runtime()
        await self.app(scope, receive, send)

    async def _lifespan(self, receive, send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await get_runtime()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await shutdown_runtime()
                await send({"type": "lifespan.shutdown.complete"})
                return
