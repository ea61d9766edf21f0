"""Driving served Tutor processes from a test as a browser would: databases, log-in, chat.

For tests that start Daphne themselves (``tutor_project.testing.daphne``): each app gets a
database of its own (a SQLite file, or a fresh PostgreSQL database on the test
server), and is set up with ``manage.py`` like a real deployment.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from django.conf import settings

from lessons_app.tests.chat_helpers import ends_turn
from tutor_project.testing.app_shell import manage_py
from tutor_project.testing.running_app import running_app_env

FRAME_TIMEOUT_SECONDS = 30
# A served app checkpoints about every second; only a stuck one gets near this.
CHECKPOINT_WAIT_SECONDS = 30
CHECKPOINT_POLL_SECONDS = 0.1


@contextlib.contextmanager
def postgres_database() -> Iterator[str]:
    """A new, empty PostgreSQL database on the test server; its URL. Dropped afterwards."""
    import psycopg

    server = settings.DATABASES["default"]
    params = {
        "host": server.get("HOST") or "127.0.0.1",
        "port": server.get("PORT") or 5432,
        "user": server.get("USER") or "postgres",
        "password": server.get("PASSWORD") or None,
    }
    name = f"tutor_procs_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(dbname="postgres", autocommit=True, **params) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    password = f":{params['password']}" if params["password"] else ""
    try:
        yield f"postgres://{params['user']}{password}@{params['host']}:{params['port']}/{name}"
    finally:
        with psycopg.connect(dbname="postgres", autocommit=True, **params) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def app_env(database_url: str, *, redis_url: str | None, **overrides: str) -> dict[str, str]:
    """The environment of a served app on ``database_url``: Redis engine if ``redis_url``."""
    env = running_app_env(Path("unused.sqlite3"))
    env.update(
        DATABASE_URL=database_url,
        TUTOR_REDIS_PREFIX=f"tutor-procs-{uuid.uuid4().hex[:10]}",
        **overrides,
    )
    if redis_url:
        env.update(REDIS_URL=redis_url, TUTOR_TURN_ENGINE="redis")
    else:
        env.pop("REDIS_URL", None)
        env["TUTOR_TURN_ENGINE"] = "memory"
    return env


SET_UP = """
from django.core.management import call_command
call_command("migrate", interactive=False, verbosity=0)
call_command("load_demo", verbosity=0)
"""


def set_up_app(env: dict[str, str], code: str) -> None:
    """Migrate, load the demo lesson, then run ``code``: one ``manage.py`` process (each
    costs seconds of imports)."""
    manage_py(env, "shell", "-c", SET_UP + code)


async def log_in(session: aiohttp.ClientSession, base_url: str, username: str, password: str):
    login_url = f"{base_url}/accounts/login/"
    async with session.get(login_url) as response:
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', await response.text())
    form = {"username": username, "password": password, "csrfmiddlewaretoken": token[1]}
    async with session.post(login_url, data=form, allow_redirects=False) as response:
        assert response.status == 302, await response.text()


async def open_chat(
    session: aiohttp.ClientSession, base_url: str, slug: str, query: str = ""
) -> tuple[aiohttp.ClientWebSocketResponse, dict[str, Any]]:
    """A chat socket on ``base_url`` and the history frame it opened with."""
    url = f"{base_url.replace('http', 'ws', 1)}/ws/lessons/{slug}/chat/"
    socket = await session.ws_connect(url + (f"?{query}" if query else ""), origin=base_url)
    history = await receive(socket)
    assert history["type"] == "history", history
    return socket, history


async def receive(socket: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    message = await socket.receive(timeout=FRAME_TIMEOUT_SECONDS)
    assert message.type == aiohttp.WSMsgType.TEXT, f"the socket sent {message!r}"
    return json.loads(message.data)


async def send(socket: aiohttp.ClientWebSocketResponse, frame: dict[str, Any]) -> None:
    await socket.send_str(json.dumps(frame))


async def receive_until(socket, *types: str, limit: int = 500) -> list[dict[str, Any]]:
    frames = []
    async with asyncio.timeout(FRAME_TIMEOUT_SECONDS):
        for _ in range(limit):
            frames.append(await receive(socket))
            if frames[-1]["type"] in types:
                return frames
    raise AssertionError(f"no {types} within {limit} frames: {frames[-5:]}")


async def receive_turn(socket, limit: int = 500) -> list[dict[str, Any]]:
    """Frames up to the one ending a turn (``done``, or an ``error`` refusing nothing)."""
    frames = []
    async with asyncio.timeout(FRAME_TIMEOUT_SECONDS):
        for _ in range(limit):
            frame = await receive(socket)
            frames.append(frame)
            if ends_turn(frame):
                return frames
    raise AssertionError(f"the turn did not end within {limit} frames: {frames[-5:]}")


def cookie_jar() -> aiohttp.CookieJar:
    return aiohttp.CookieJar(unsafe=True)  # keep cookies for 127.0.0.1


def reply_row(database_url: str, message_id: int) -> tuple[str, str, str]:
    """(status, error_code, content) of a message in a served app's database."""
    query = "SELECT status, error_code, content FROM lessons_app_message WHERE id = %s"
    if database_url.startswith("sqlite:///"):
        import sqlite3

        with contextlib.closing(sqlite3.connect(database_url.removeprefix("sqlite:///"))) as db:
            return db.execute(query.replace("%s", "?"), (message_id,)).fetchone()
    import psycopg

    with psycopg.connect(database_url) as db:
        return db.execute(query, (message_id,)).fetchone()


def wait_for_checkpoint(database_url: str, message_id: int, text: str) -> None:
    """Wait until a served app has saved at least ``text`` of a reply that is streaming.

    A killed server leaves its last checkpoint behind. How often the runner checkpoints
    is tested against an injected clock (test_durable_turns.py), so a test that kills a
    server waits for the checkpoint itself rather than for a window of wall-clock time.
    """
    deadline = time.monotonic() + CHECKPOINT_WAIT_SECONDS
    while not (saved := reply_row(database_url, message_id)[2]).startswith(text):
        if time.monotonic() > deadline:
            pytest.fail(f"no checkpoint of {text!r} within {CHECKPOINT_WAIT_SECONDS}s: {saved!r}")
        time.sleep(CHECKPOINT_POLL_SECONDS)
