"""Turns across server processes: real Daphne workers, killed, and cut off from PostgreSQL.

- Two workers on one Redis and one PostgreSQL: a socket on the second attaches mid-reply
  to a turn running on the first, gets the rest with no gap or repeat, and stops the
  next one; /healthz stays 200 with sockets open. Then the first is killed mid-reply
  (SIGKILL) once it has checkpointed what the client has: the second finishes that reply
  as ``interrupted``, with at least that text, and Retry works.
- PostgreSQL going away mid-turn and coming back: no crash, errors as frames, the reply
  saved once it is back, and only then ``done``.

One process on the in-memory engine, killed and restarted (and refusing a second
process), is tested in a browser: test_e2e_durable_turns.py. Every Daphne start costs
seconds of imports, so each test here does several things with its servers. The fake
provider runs in this test process; ``pause_at`` holds a reply mid-stream.
"""

from __future__ import annotations

import asyncio
import signal
import time

import aiohttp
import pytest
from django.conf import settings

from lessons_app.tests.chat_helpers import text_of
from lessons_app.tests.served_app import (
    app_env,
    cookie_jar,
    log_in,
    open_chat,
    postgres_database,
    receive,
    receive_turn,
    receive_until,
    reply_row,
    send,
    set_up_app,
    wait_for_checkpoint,
)
from lessons_app.tests.tcp_proxy import TcpProxy
from lessons_app.tests.test_e2e_lesson import DEMO_SLUG
from llm_app.testing import FakeAnthropicServer, Reply
from tutor_project.testing.daphne import daphne_server
from tutor_project.testing.required_services import require_postgres, require_redis

LEARNERS = [(f"procs-learner-{n}", f"procs-learner-password-{n}-5521") for n in range(4)]
STORY = (
    "A seed lands on warm soil. Rain comes, a root goes down, a shoot comes up, "
    "and year after year the trunk adds a ring until the tree is taller than the house."
)
# Sweep quickly in these servers, so a dead runner's turn ends within seconds.
FAST_SWEEP = {"TUTOR_RUNNER_STALE_SECONDS": "3", "TUTOR_SWEEP_SECONDS": "1"}
INTERRUPTED_WITHIN_SECONDS = 30


def setup_code(api_base: str) -> str:
    return f"""
from django.contrib.auth import get_user_model
from llm_app.models import ProviderConfig
from llm_app.services import make_default
for username, password in {LEARNERS!r}:
    get_user_model().objects.create_user(username=username, password=password)
make_default(ProviderConfig.objects.create(
    name="Fake Claude", model="anthropic/claude-sonnet-4-20250514", api_base={api_base!r},
    api_key="test-key-procs", max_retries=0, timeout_seconds=60,
))
"""


@pytest.fixture(scope="module")
def claude():
    with FakeAnthropicServer() as server:
        yield server


@pytest.fixture
def fresh_claude(claude):
    claude.reset()
    yield claude
    claude.resume()  # never leave a reply held for the next test


def redis_url() -> str:
    return require_redis()


@pytest.fixture(scope="module")
def shared_postgres(claude):
    """A PostgreSQL database of this module's, migrated and set up once."""
    require_postgres()
    with postgres_database() as url:
        set_up_app(app_env(url, redis_url=None), setup_code(claude.url))
        yield url


@pytest.fixture(scope="module")
def redis_postgres_env(shared_postgres):
    """Workers on one PostgreSQL database and one Redis."""
    return app_env(shared_postgres, redis_url=redis_url(), **FAST_SWEEP)


async def start_paused_turn(socket, server, *, texts: int) -> list[dict]:
    await send(socket, {"type": "message", "content": "Tell me how a tree grows"})
    frames = await receive_until(socket, "reply")
    for _ in range(texts):
        frames.append(await receive(socket))
    assert [f["type"] for f in frames[-texts:]] == ["text"] * texts
    await asyncio.to_thread(server.wait_until_paused, 10)
    return frames


async def wait_for_status(database_url: str, message_id: int, status: str) -> tuple:
    deadline = time.monotonic() + INTERRUPTED_WITHIN_SECONDS
    while True:
        row = await asyncio.to_thread(reply_row, database_url, message_id)
        if row[0] == status or time.monotonic() > deadline:
            return row
        await asyncio.sleep(0.2)


async def kill_mid_reply(server, socket, claude, database_url: str) -> tuple[int, str]:
    """Start a turn, note the text the client has, SIGKILL the server once it is saved."""
    frames = await start_paused_turn(socket, claude, texts=2)
    had = text_of(frames)
    message_id = frames[-3]["message"]["id"]
    await asyncio.to_thread(wait_for_checkpoint, database_url, message_id, had)
    server.process.send_signal(signal.SIGKILL)
    server.process.wait(timeout=10)
    return message_id, had


async def test_workers_share_turns_and_a_killed_workers_turn_is_finished_by_the_other(
    redis_postgres_env, fresh_claude, tmp_path
):
    username, password = LEARNERS[0]
    database = redis_postgres_env["DATABASE_URL"]
    fresh_claude.enqueue(Reply.text(STORY, chunks=8, pause_at=3))
    with daphne_server(redis_postgres_env, tmp_path / "b.log") as worker_b:
        async with aiohttp.ClientSession(cookie_jar=cookie_jar()) as browser:
            with daphne_server(redis_postgres_env, tmp_path / "a.log") as worker_a:
                await log_in(browser, worker_a.url, username, password)
                on_a, _ = await open_chat(browser, worker_a.url, DEMO_SLUG)
                before = await start_paused_turn(on_a, fresh_claude, texts=3)
                reply_id = before[-4]["message"]["id"]

                # --- A socket on B attaches mid-reply to the turn running on A.
                on_b, history = await open_chat(browser, worker_b.url, DEMO_SLUG)
                seq = before[-1]["seq"]
                assert history["turn"] == {
                    "message_id": reply_id,
                    "seq": seq,
                    "resumed": False,
                    "tools": [],
                }
                assert history["messages"][-1]["content"] == text_of(before)
                for worker in (worker_a, worker_b):  # sockets open, Redis configured: healthy
                    async with browser.get(f"{worker.url}/healthz") as response:
                        assert response.status == 200, await response.text()
                fresh_claude.resume()
                rest_on_b = await receive_turn(on_b)
                rest_on_a = await receive_turn(on_a)
                numbers = [f["seq"] for f in rest_on_b]
                assert numbers == list(range(seq + 1, seq + 1 + len(rest_on_b)))
                assert rest_on_b == rest_on_a
                assert history["messages"][-1]["content"] + text_of(rest_on_b) == STORY
                assert reply_row(database, reply_id) == ("complete", "", STORY)

                # --- The next turn starts on A; B sees it live and stops it.
                fresh_claude.enqueue(Reply.text(STORY, chunks=8, pause_at=2))
                started = await start_paused_turn(on_a, fresh_claude, texts=2)
                seen_on_b = await receive_until(on_b, "text")
                seen_on_b.append(await receive(on_b))
                assert seen_on_b == started[-len(seen_on_b) :]
                await send(on_b, {"type": "stop"})
                for socket in (on_a, on_b):
                    end = (await receive_turn(socket))[-1]
                    assert (end["type"], end["code"]) == ("error", "stopped")
                assert await asyncio.to_thread(fresh_claude.wait_for_disconnect, 10)
                assert reply_row(database, end["message_id"])[::2] == ("stopped", text_of(started))

                # --- A is killed mid-reply.
                fresh_claude.enqueue(Reply.text(STORY, chunks=8, pause_at=2))
                killed_id, had = await kill_mid_reply(worker_a, on_a, fresh_claude, database)

            # B's sweep finishes it (within the stale threshold plus a sweep), and the turn's
            # log ends, for B's socket, with the error that says so.
            status, code, content = await wait_for_status(database, killed_id, "interrupted")
            assert (status, code) == ("interrupted", "interrupted")
            assert content.startswith(had)
            end = (await receive_turn(on_b))[-1]
            assert (end["type"], end["code"], end["message_id"]) == (
                "error",
                "interrupted",
                killed_id,
            )
            fresh_claude.enqueue(Reply.text("Here is the whole story again."))
            await send(on_b, {"type": "retry"})
            assert text_of(await receive_turn(on_b)) == "Here is the whole story again."


async def test_postgresql_going_away_mid_turn_loses_nothing_and_crashes_nothing(
    shared_postgres, fresh_claude, tmp_path
):
    username, password = LEARNERS[3]
    server = settings.DATABASES["default"]
    proxy = TcpProxy(server.get("HOST") or "127.0.0.1", int(server.get("PORT") or 5432))
    database_name = shared_postgres.rsplit("/", 1)[1]
    through_proxy = f"postgres://postgres@127.0.0.1:{proxy.port}/{database_name}"
    env = app_env(through_proxy, redis_url=None)
    fresh_claude.enqueue(Reply.text(STORY, chunks=8, pause_at=2))
    with proxy, daphne_server(env, tmp_path / "app.log") as app:
        async with aiohttp.ClientSession(cookie_jar=cookie_jar()) as browser:
            await log_in(browser, app.url, username, password)
            socket, _ = await open_chat(browser, app.url, DEMO_SLUG)
            frames = await start_paused_turn(socket, fresh_claude, texts=2)
            reply_id = frames[-3]["message"]["id"]

            proxy.cut()  # PostgreSQL is gone for the app: connections dropped and refused
            fresh_claude.resume()
            await receive_until(socket, "usage")  # the reply streams on while it is away
            await send(socket, {"type": "message", "content": "Still there?"})
            refusal = await receive(socket)
            assert (refusal["type"], refusal["code"], refusal["rejected"]) == (
                "error",
                "unavailable",
                "message",
            )
            assert reply_row(shared_postgres, reply_id)[0] == "streaming"  # not saved yet...

            proxy.restore()
            end = await receive_until(socket, "done")  # ...and `done` waits until it is
            assert [f["type"] for f in end] == ["done"]
            assert reply_row(shared_postgres, reply_id) == ("complete", "", STORY)
            fresh_claude.enqueue(Reply.text("Yes, still here."))
            await send(socket, {"type": "message", "content": "Still there?"})
            assert text_of(await receive_turn(socket)) == "Yes, still here."
        assert app.process.poll() is None, "the server kept running through the outage"
