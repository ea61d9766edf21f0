"""The chat's database work: a bounded pool of threads, each keeping its own connection.

Channels' ``database_sync_to_async`` runs every call of a consumer on one thread
per process (consumers have no thread-sensitive context), so under load every
turn waits for every other turn's queries. The chat sends its calls here instead:
up to ``TUTOR_DATABASE_THREADS`` run at once, each on a thread of its own. Their
connections are reused, never opened per call: on PostgreSQL borrowed from
psycopg's pool and given back after each call, on SQLite kept by each thread for
``CONN_MAX_AGE`` seconds and checked before reuse (settings.py).

Each call is self-contained (its own transaction, if any): nothing relies on two
calls running on the same thread, which is all the one thread was for.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

from channels.auth import AuthMiddleware
from channels.db import DatabaseSyncToAsync
from channels.sessions import CookieMiddleware, InstanceSessionWrapper, SessionMiddleware
from django.conf import settings
from django.contrib.sessions.backends import db
from django.db import connections
from django.utils import timezone

from lessons_app.tutor.socket_reads import session_row

logger = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

# How long a task for every thread (closing their connections) waits for calls still running.
ALL_THREADS_WAIT_SECONDS = 5.0

_pool = ThreadPoolExecutor(
    max_workers=settings.TUTOR_DATABASE_THREADS, thread_name_prefix="tutor-database"
)


def database_call(function: Callable[P, R]) -> Callable[P, Awaitable[R]]:
    """``function`` as a coroutine run on the pool, with Django's connection upkeep around it."""
    return DatabaseSyncToAsync(function, thread_sensitive=False, executor=_pool)


def on_every_thread(function: Callable[[], object]) -> bool:
    """Run ``function`` once on each thread of the pool; ``False`` if they were too busy.

    Django's connections belong to the thread that opened them, so whatever is done
    to them (closing them, watching them in a test) has to be done by each thread:
    one task per thread, held at a barrier until every thread has one.
    """
    size = settings.TUTOR_DATABASE_THREADS
    barrier = threading.Barrier(size)

    def when_all_arrive() -> None:
        barrier.wait(timeout=ALL_THREADS_WAIT_SECONDS)
        function()

    tasks = [_pool.submit(when_all_arrive) for _ in range(size)]
    for task in tasks:
        try:
            task.result(timeout=ALL_THREADS_WAIT_SECONDS * 2)
        except Exception as exc:  # noqa: BLE001 - reported to the caller, and logged
            logger.warning("The chat's database threads did not all answer: %r", exc)
            return False
    return True


def close_connections() -> None:
    """Close the connection of every pool thread (at shutdown, or before a test database goes)."""
    on_every_thread(connections.close_all)


async def aclose_connections() -> None:
    """:func:`close_connections` without blocking the event loop."""
    await asyncio.to_thread(close_connections)


class DeferredAuthMiddleware(AuthMiddleware):
    """Channels' ``AuthMiddleware``, leaving the user's lookup to the consumer.

    The chat looks the user up after answering the handshake, in the same trip to the
    pool as the lesson and the conversation (``lessons_app.tutor.admission``).
    """

    async def resolve_scope(self, scope) -> None:
        pass


class SocketSessionStore(db.SessionStore):
    """Django's database sessions, the row read by a prepared query.

    Every socket reads its session when it opens (lessons_app.tutor.prepared says why
    that query is prepared). The row is asked for by its key, and an expired one is
    treated as Django's store treats a row it did not find.
    """

    @property
    def key_salt(self) -> str:
        # Django names the salt of a session's signature after the store's class: these
        # are the sessions Django's own store writes.
        return "django.contrib.sessions." + db.SessionStore.__qualname__

    def _get_session_from_db(self):
        session = session_row(self.session_key)
        if session is None or session.expire_date <= timezone.now():
            self._session_key = None
            return None
        return session


class _SocketSessionWrapper(InstanceSessionWrapper):
    def __init__(self, scope, send) -> None:
        super().__init__(scope, send)
        if self.session_store is db.SessionStore:  # not another engine the settings name
            self.session_store = SocketSessionStore


class SocketSessionMiddleware(SessionMiddleware):
    """Channels' ``SessionMiddleware``, database sessions read by :class:`SocketSessionStore`."""

    async def __call__(self, scope, receive, send):
        wrapper = _SocketSessionWrapper(scope, send)
        await wrapper.resolve_session()
        return await self.inner(wrapper.scope, receive, wrapper.send)


def auth_middleware_stack(inner):
    """Channels' ``AuthMiddlewareStack``, the user looked up later by the consumer."""
    return CookieMiddleware(SocketSessionMiddleware(DeferredAuthMiddleware(inner)))
