"""Malformed frames and bodies against the served app: an answer each, never a crash.

Served by Daphne on PostgreSQL with DEBUG off and on SQLite with DEBUG on, and by
``manage.py runserver`` (what ``make run`` serves) for the one thing Daphne decides
itself: a frame over its 1 MiB limit closes the socket with 1009, not a dropped
connection. The frames and codes are docs/protocol.md's. The server's log must stay
free of tracebacks throughout.
"""

from __future__ import annotations

import json
import re

import aiohttp
import pytest

from lessons_app.tests.served_app import (
    app_env,
    cookie_jar,
    log_in,
    open_chat,
    postgres_database,
    receive,
    receive_turn,
    send,
    set_up_app,
)
from lessons_app.tests.test_e2e_lesson import DEMO_SLUG
from lessons_app.tutor.protocol import MAX_FRAME_BYTES
from tutor_project.testing.daphne import daphne_server
from tutor_project.testing.required_services import require_postgres

USERNAME, PASSWORD = "hostile-learner", "hostile-learner-password-8812"
# Daphne's own limit (its --websocket_max_message_size, and runserver's default).
DAPHNE_MAX_MESSAGE_BYTES = 1024 * 1024
CLOSE_MESSAGE_TOO_BIG = 1009
NESTED = "[" * 100_000 + "]" * 100_000
CREATE_LEARNER = f"""
from django.contrib.auth import get_user_model
get_user_model().objects.create_user(username={USERNAME!r}, password={PASSWORD!r})
"""
# Raw frame text -> (the error code, its ``rejected``); each refused, the socket kept.
REFUSED_FRAMES = [
    ('{"type": "message", "content": ' + "[" * 30_000 + "]" * 30_000 + "}", "bad_frame", None),
    ('{"type": "message", "content": "a lone \\ud800 surrogate"}', "bad_frame", None),
    ('{"type": "\\udc00"}', "bad_frame", None),
    (json.dumps({"type": "message", "content": "x" * (MAX_FRAME_BYTES + 10)}), "too_long", None),
    ("x" * (DAPHNE_MAX_MESSAGE_BYTES - 10), "too_long", None),
]


@pytest.fixture(params=["postgresql-debug-off", "sqlite-debug-on"])
def served(request, tmp_path):
    """A served app of its own, on each database; its base URL and its log."""
    if request.param.startswith("postgresql"):
        require_postgres()
        with postgres_database() as url:
            yield from _serve(app_env(url, redis_url=None, DEBUG="0"), tmp_path)
    else:
        yield from _serve(
            app_env(f"sqlite:///{tmp_path / 'db.sqlite3'}", redis_url=None, DEBUG="1"), tmp_path
        )


def _serve(env, tmp_path):
    set_up_app(env, CREATE_LEARNER)
    with daphne_server(env, tmp_path / "daphne.log") as server:
        yield server


def assert_no_traceback(server) -> None:
    assert not re.search("Traceback|Error:", server.log_path.read_text()), server.output()


async def test_no_frame_or_body_crashes_the_socket_or_the_page(served):
    async with aiohttp.ClientSession(cookie_jar=cookie_jar()) as session:
        await log_in(session, served.url, USERNAME, PASSWORD)
        socket, _ = await open_chat(session, served.url, DEMO_SLUG)

        for raw, code, rejected in REFUSED_FRAMES:
            await socket.send_str(raw)
            error = await receive(socket)
            assert (error["type"], error["code"], error["rejected"]) == ("error", code, rejected)
            assert error["message"]

        # NUL is dropped at the boundary; the message is saved and answered on either
        # database (PostgreSQL text cannot hold NUL).
        await send(socket, {"type": "message", "content": "Why\x00 are leaves green?"})
        frames = await receive_turn(socket)
        echo = next(frame for frame in frames if frame["type"] == "message")
        assert echo["message"]["content"] == "Why are leaves green?"
        assert frames[-1]["type"] == "done", frames[-1]
        reply_id = next(frame for frame in frames if frame["type"] == "reply")["message"]["id"]

        # The rating endpoint, with the same kinds of body.
        token = {c.key: c.value for c in session.cookie_jar}["csrftoken"]
        rating_url = f"{served.url}/lessons/{DEMO_SLUG}/messages/{reply_id}/rating/"
        for body in ['{"value": 1, "comment": "\\ud800"}', NESTED[:10_000]]:
            async with session.post(
                rating_url,
                data=body,
                headers={"X-CSRFToken": token, "Content-Type": "application/json"},
            ) as response:
                assert response.status == 400, await response.text()
                assert (await response.json())["error"]
        await socket.close()
    assert_no_traceback(served)


async def oversized_frame_is_closed_with_1009(base_url: str) -> None:
    async with aiohttp.ClientSession(cookie_jar=cookie_jar()) as session:
        await log_in(session, base_url, USERNAME, PASSWORD)
        socket, _ = await open_chat(session, base_url, DEMO_SLUG)
        await socket.send_str("x" * (DAPHNE_MAX_MESSAGE_BYTES + 1))
        closing = await socket.receive(timeout=30)
        assert closing.type == aiohttp.WSMsgType.CLOSE, closing
        assert closing.data == CLOSE_MESSAGE_TOO_BIG
        # A new socket works as before.
        socket, history = await open_chat(session, base_url, DEMO_SLUG)
        assert history["type"] == "history"
        await socket.close()


async def test_a_frame_over_daphnes_limit_is_closed_with_1009_not_dropped(tmp_path):
    env = app_env(f"sqlite:///{tmp_path / 'db.sqlite3'}", redis_url=None)
    set_up_app(env, CREATE_LEARNER)
    with daphne_server(env, tmp_path / "daphne.log") as server:
        await oversized_frame_is_closed_with_1009(server.url)
    env["DEBUG"] = "1"
    with daphne_server(env, tmp_path / "runserver.log", runserver=True) as server:
        await oversized_frame_is_closed_with_1009(server.url)
