"""What a turn asks of the database: one trip before the model is called, on kept connections.

Every statement of the chat's database threads is logged with the thread it ran
on and when; the fake provider records when the model call reached it, which
splits the turn's statements into before and after. On PostgreSQL (as in CI) the
connection pool's count shows that a turn opens no connection.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import pytest
from channels.db import database_sync_to_async
from django.db import connection

from lessons_app.tests.chat_helpers import add_provider, open_chat, receive_turn, send
from lessons_app.tutor import database
from llm_app.testing import Reply

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("turn_runtime")]


QUERIES_BEFORE_THE_CALL = 6
# Transaction control and Django's health check of a kept connection: not queries of the turn.
NOT_QUERIES = ("BEGIN", "SAVEPOINT", "RELEASE SAVEPOINT", "SELECT 1")


@dataclass
class Statement:
    sql: str
    thread: int
    at: float


def opened_so_far() -> int:
    """Connections psycopg's pool has opened (PostgreSQL), or 0 without a pool (SQLite)."""
    pool = getattr(connection, "pool", None)
    return pool.get_stats()["connections_num"] if pool is not None else 0


@dataclass
class StatementLog:
    statements: list[Statement] = field(default_factory=list)
    opened_before: int = 0

    def connect(self) -> None:
        """On one thread: connect it (``connection`` is looked up on the thread itself)."""
        connection.ensure_connection()

    def watch(self) -> None:
        """On one thread: log what its connection runs (a wrapper stays across reconnects)."""
        connection.execute_wrappers.append(self._record)

    def unwatch(self) -> None:
        connection.execute_wrappers.remove(self._record)

    def _record(self, execute, sql, params, many, context):
        self.statements.append(Statement(sql, threading.get_ident(), time.monotonic()))
        return execute(sql, params, many, context)

    def clear(self) -> None:
        self.statements.clear()
        self.opened_before = opened_so_far()

    def before(self, moment: float) -> list[Statement]:
        return [statement for statement in self.statements if statement.at < moment]


def queries(statements: list[Statement]) -> list[Statement]:
    return [s for s in statements if not s.sql.upper().startswith(NOT_QUERIES)]


@pytest.fixture
def statements(settings):
    # No checkpoint may fall inside a turn: it would be counted as the turn's work.
    settings.TUTOR_CHECKPOINT_SECONDS = 3600
    log = StatementLog()
    # Every thread connected once, as in a process that has served a while: a turn
    # must then open no connection, whichever threads it runs on.
    assert database.on_every_thread(log.connect)
    assert database.on_every_thread(log.watch)
    yield log
    assert database.on_every_thread(log.unwatch)


@pytest.fixture
async def fake_default(openai_server):
    await database_sync_to_async(add_provider)(
        "Fake", "openai/gpt-4o-mini", openai_server.url, default=True
    )
    return openai_server


async def run_turn(communicator, server, content: str) -> float:
    """One message turn, to its end; when the model call reached the provider."""
    server.enqueue(Reply.text("Leaves catch light.", chunks=3))
    await send(communicator, {"type": "message", "content": content})
    frames = await receive_turn(communicator)
    assert frames[-1]["type"] == "done"
    return server.last_request.received_at


async def test_the_work_before_the_model_call_is_one_trip_on_a_kept_connection(
    learner, fake_default, statements
):
    communicator, _ = await open_chat(learner)
    await run_turn(communicator, fake_default, "Warm up")
    statements.clear()
    called_at = await run_turn(communicator, fake_default, "Why are leaves green?")
    await communicator.disconnect()

    before = statements.before(called_at)
    # One trip: every statement before the call ran on one thread, in one go.
    assert len({statement.thread for statement in before}) == 1, before
    # The providers' revision, the conversation's lock, the turn in flight, the learner's
    # message, the reply's row, the history: the provider itself comes from memory.
    assert len(queries(before)) == QUERIES_BEFORE_THE_CALL, [s.sql for s in before]
    # After it: the finished reply saved, and read back for the turn log.
    assert len(queries(statements.statements)) == QUERIES_BEFORE_THE_CALL + 2
    if getattr(connection, "pool", None) is not None:
        # PostgreSQL (CI): Django lends pooled connections; the pool itself opened none.
        assert opened_so_far() == statements.opened_before
