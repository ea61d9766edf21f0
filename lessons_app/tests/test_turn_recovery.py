"""Turns whose runner died, and backends that go away and come back, in one process.

Time is a :class:`ManualClock` given to the runtime: sweeps, checkpoints and retries
happen when the test advances it. The multi-process cases (a killed server, a
second worker) are in test_turns_across_processes.py.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import subprocess
import threading
from datetime import UTC, datetime, timedelta

import pytest
from channels.db import database_sync_to_async
from django.db import OperationalError

from lessons_app.models import Lesson, Message
from lessons_app.tests.chat_helpers import (
    CLAUDE,
    RECEIVE_TIMEOUT,
    add_provider,
    make_user,
    open_chat,
    receive,
    receive_turn,
    receive_until,
    send,
    text_of,
)
from lessons_app.tests.manual_clock import ManualClock
from lessons_app.tutor import conversation, turns
from lessons_app.tutor.engines.redis import RedisEngine
from lessons_app.tutor.runtime import get_runtime
from lessons_app.tutor.sweep import Liveness, recovered_text
from lessons_app.tutor.turns import StreamingRow, TurnRequest
from llm_app.testing import Reply
from tutor_project.testing.ports import free_port
from tutor_project.testing.required_services import require

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
STALE_AFTER = timedelta(seconds=10)
ME = "here:1:aaaa"
OTHER = "there:2:bbbb"
STORY = "Roots drink, leaves breathe, and the trunk grows a ring every year."


# --- The sweep's decision ----------------------------------------------------------------


def in_flight(runner_id: str, beat_seconds_ago: float | None, pk: int = 7) -> StreamingRow:
    beat = None if beat_seconds_ago is None else NOW - timedelta(seconds=beat_seconds_ago)
    return StreamingRow(pk, 1, runner_id, beat, "")


@pytest.mark.parametrize(
    ("row", "running", "alive", "single_process", "dead"),
    [
        pytest.param(in_flight(ME, 60), {7}, set(), False, False, id="mine-and-running"),
        pytest.param(in_flight(ME, 1), set(), set(), False, False, id="mine-being-set-up"),
        pytest.param(in_flight(ME, 60), set(), set(), False, True, id="mine-but-its-task-is-gone"),
        pytest.param(in_flight(OTHER, 1), set(), set(), True, True, id="one-process-engine"),
        pytest.param(in_flight(OTHER, 60), set(), {OTHER}, False, False, id="runner-beats"),
        pytest.param(in_flight(OTHER, 1), set(), set(), False, False, id="redis-restarted"),
        pytest.param(in_flight(OTHER, 60), set(), set(), False, True, id="both-stale"),
        pytest.param(in_flight(OTHER, None), set(), set(), False, True, id="never-beat"),
    ],
)
def test_a_turn_is_dead_only_when_nothing_says_its_runner_lives(
    row, running, alive, single_process, dead
):
    liveness = Liveness(
        runner_id=ME,
        running=running,
        alive_runners=alive,
        single_process=single_process,
        now=NOW,
        stale_after=STALE_AFTER,
    )
    assert liveness.is_dead(row) is dead
    assert liveness.dead([row]) == ([row] if dead else [])


def test_the_sweep_keeps_the_logged_text_only_when_it_extends_the_checkpoint():
    assert recovered_text("Roots drink", "Roots drink, leaves") == "Roots drink, leaves"
    assert recovered_text("Roots drink", "") == "Roots drink"
    assert recovered_text("Roots drink", "Something else entirely") == "Roots drink"


# --- The sweep, end to end -------------------------------------------------------------

pytest_django = pytest.mark.django_db(transaction=True)


@pytest.fixture
async def claude(anthropic_server, turn_engine):
    await database_sync_to_async(add_provider)("Claude", CLAUDE, anthropic_server.url, default=True)
    return anthropic_server


def orphaned_turn(user, *, runner_id: str, beat: datetime, text: str) -> Message:
    """A turn in flight as a process that died would leave it: streaming, checkpointed."""
    lesson = Lesson.objects.get(slug="plants")
    chat = conversation.conversation_of(user, lesson)
    state = conversation.chat_state(user, lesson, chat)
    request = TurnRequest(
        user=user, lesson=lesson, conversation=chat, stage=state.stage, content="Tell me"
    )
    reply = turns.open_turn(request, runner_id=runner_id, now=beat).reply
    Message.objects.filter(pk=reply.pk).update(content=text)
    return reply


@pytest_django
async def test_a_dead_runners_turn_is_interrupted_with_its_text_and_can_be_retried(learner, claude):
    clock = ManualClock()
    runtime = await get_runtime(clock=clock)
    reply = await database_sync_to_async(orphaned_turn)(
        learner, runner_id=OTHER, beat=clock.now() - timedelta(minutes=1), text="Half a rep"
    )
    # A German learner: the sweep runs in no learner's language, the socket reads German.
    communicator, history = await open_chat(learner, query="lang=de")
    assert history["turn"] == {"message_id": reply.pk, "seq": 0, "resumed": False, "tools": []}

    await runtime.runner.sweep_once()
    fresh = await receive(communicator)  # the sweep told every socket; this one resyncs
    assert (fresh["type"], fresh["turn"]) == ("history", None)
    shown = fresh["messages"][-1]
    assert (shown["id"], shown["status"], shown["error_code"], shown["content"]) == (
        reply.pk,
        "interrupted",
        "interrupted",
        "Half a rep",
    )
    assert shown["error_message"].startswith("Der Tutor wurde unterbrochen")
    claude.enqueue(Reply.text("A whole reply this time."))
    await send(communicator, {"type": "retry"})
    assert text_of(await receive_turn(communicator)) == "A whole reply this time."
    assert claude.last_request.roles == ["user"]  # the interrupted reply is not replayed
    await communicator.disconnect()


@pytest_django
@pytest.mark.parametrize("turn_engine", ["memory"], indirect=True)
async def test_a_restarted_one_process_server_interrupts_the_old_processs_turns_at_once(
    learner, claude
):
    clock = ManualClock()
    reply = await database_sync_to_async(orphaned_turn)(
        learner, runner_id=OTHER, beat=clock.now(), text="Cut short"
    )
    await get_runtime(clock=clock)  # starting sweeps: the old process is gone for sure
    saved = await Message.objects.aget(pk=reply.pk)
    assert (saved.status, saved.content) == ("interrupted", "Cut short")


@pytest_django
@pytest.mark.parametrize("turn_engine", ["redis"], indirect=True)
async def test_on_redis_a_turn_is_left_alone_while_either_heartbeat_is_fresh(
    learner, claude, settings
):
    clock = ManualClock()
    runtime = await get_runtime(clock=clock)
    living = RedisEngine(runner_id="there:3:cccc")
    await living.beat()  # another worker, alive, though its rows have not beaten lately
    second = await database_sync_to_async(make_user)("second-learner")
    of_living_runner = await database_sync_to_async(orphaned_turn)(
        learner, runner_id=living.runner_id, beat=clock.now() - timedelta(minutes=1), text="a"
    )
    # A runner with no Redis key (Redis restarted, say) whose row beat just now.
    recently_beaten = await database_sync_to_async(orphaned_turn)(
        second, runner_id=OTHER, beat=clock.now(), text="b"
    )

    await runtime.runner.sweep_once()
    for reply in (of_living_runner, recently_beaten):
        assert (await Message.objects.aget(pk=reply.pk)).status == "streaming"

    await clock.advance(settings.TUTOR_RUNNER_STALE_SECONDS + 1)
    await runtime.runner.sweep_once()
    assert (await Message.objects.aget(pk=recently_beaten.pk)).status == "interrupted"
    assert (await Message.objects.aget(pk=of_living_runner.pk)).status == "streaming"
    await living.close()


# --- Backends going away and coming back -----------------------------------------------


@pytest_django
async def test_a_database_outage_at_the_end_of_a_turn_holds_done_until_the_reply_is_saved(
    learner, claude, monkeypatch, settings
):
    settings.TUTOR_CHECKPOINT_SECONDS = settings.TUTOR_SWEEP_SECONDS = 3600
    clock = ManualClock()
    await get_runtime(clock=clock)
    real_finish = turns.finish_reply
    calls = []

    def finish_while_the_database_is_down(reply_id, **kwargs):
        calls.append(reply_id)
        if len(calls) <= 2:
            raise OperationalError("server closed the connection unexpectedly")
        return real_finish(reply_id, **kwargs)

    monkeypatch.setattr(turns, "finish_reply", finish_while_the_database_is_down)
    claude.enqueue(Reply.text(STORY, chunks=3))
    communicator, _ = await open_chat(learner)
    await send(communicator, {"type": "message", "content": "Tell me about trees"})
    frames = await receive_until(communicator, "usage")
    for pause in (0.5, 1.0):  # the runner's backoff, on the injected clock
        await asyncio.wait_for(clock.sleeping(pause), 10)
        await clock.advance(pause)
    done = await receive(communicator)
    assert done["type"] == "done"
    assert len(calls) == 3
    saved = await Message.objects.aget(pk=frames[1]["message"]["id"])
    assert (saved.status, saved.content) == ("complete", STORY)
    await communicator.disconnect()


class PrivateRedis:
    """A redis-server of this test's own, so restarting it disturbs nothing else."""

    def __init__(self, directory) -> None:
        self.port = free_port()
        self.directory = directory
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(  # noqa: S603 - fixed arguments
            [
                shutil.which("redis-server"),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
        )
        for _ in range(100):
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            threading.Event().wait(0.05)
        raise RuntimeError("the private redis-server did not start")

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(timeout=10)


@pytest.fixture
def private_redis(tmp_path):
    require(shutil.which("redis-server") is not None, "needs redis-server (apt-get install redis)")
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    if server.process.poll() is None:
        server.kill()


@pytest_django
@pytest.mark.parametrize("turn_engine", ["redis"], indirect=True)
async def test_redis_restarting_pauses_live_frames_without_closing_sockets_and_loses_nothing(
    private_redis, learner, claude, settings
):
    settings.REDIS_URL = private_redis.url
    claude.enqueue(Reply.text(STORY, chunks=4, pause_at=2))
    idle, _ = await open_chat(learner)
    talking, _ = await open_chat(learner)
    await send(talking, {"type": "message", "content": "Tell me about trees"})
    before = [await receive(talking) for _ in range(4)]
    reply_id = before[1]["message"]["id"]
    await receive_until(idle, "text")

    private_redis.kill()
    for communicator in (idle, talking):
        notice = await receive_until(communicator, "error")
        assert (notice[-1]["code"], notice[-1]["rejected"]) == ("live_paused", None)
    await send(idle, {"type": "message", "content": "Are you there?"})
    refusal = await receive(idle)
    assert (refusal["code"], refusal["rejected"]) == ("unavailable", "message")

    claude.resume()  # the turn goes on and is saved while Redis is down
    for _ in range(200):
        if (await Message.objects.aget(pk=reply_id)).status == "complete":
            break
        await asyncio.sleep(0.05)
    private_redis.start()  # empty: everything Redis held is gone

    for communicator in (idle, talking):
        history = await receive_until(communicator, "history")
        shown = history[-1]["messages"][-1]
        assert (shown["id"], shown["status"], shown["content"]) == (reply_id, "complete", STORY)
        assert history[-1]["turn"] is None
    assert await Message.objects.filter(content="Are you there?").acount() == 0

    claude.enqueue(Reply.text("Back again."))
    await send(idle, {"type": "message", "content": "Are you there?"})
    assert text_of(await receive_turn(idle)) == "Back again."
    assert text_of(await receive_turn(talking)) == "Back again."
    await idle.disconnect()
    await talking.disconnect()


# --- Shutting down ---------------------------------------------------------------------


@pytest_django
async def test_shutting_down_ends_running_turns_as_interrupted_with_their_text_saved(
    learner, claude
):
    from lessons_app.tutor.runtime import current_runtime, shutdown_runtime

    claude.enqueue(Reply.text(STORY, chunks=6, pause_at=2))
    communicator, _ = await open_chat(learner)
    await send(communicator, {"type": "message", "content": "Tell me about trees"})
    frames = await receive_until(communicator, "reply")
    frames += [await receive(communicator), await receive(communicator)]
    await asyncio.to_thread(claude.wait_until_paused)

    await shutdown_runtime()
    end = await receive(communicator)
    assert (end["type"], end["code"], end["retryable"]) == ("error", "interrupted", True)
    saved = await Message.objects.aget(pk=frames[1]["message"]["id"])
    assert (saved.status, saved.content) == ("interrupted", text_of(frames))
    assert current_runtime() is None
    assert await asyncio.to_thread(claude.wait_for_disconnect, 5.0)
    await communicator.disconnect()


@pytest_django
async def test_the_asgi_lifespan_starts_and_stops_the_runtime(turn_runtime):
    from channels.testing import ApplicationCommunicator

    from lessons_app.tutor.runtime import TurnRuntimeMiddleware, current_runtime

    async def no_app(scope, receive, send):  # pragma: no cover - lifespan never reaches it
        raise AssertionError("the lifespan scope is the middleware's own")

    lifespan = ApplicationCommunicator(TurnRuntimeMiddleware(no_app), {"type": "lifespan"})
    await lifespan.send_input({"type": "lifespan.startup"})
    assert await lifespan.receive_output(RECEIVE_TIMEOUT) == {"type": "lifespan.startup.complete"}
    assert current_runtime() is not None
    await lifespan.send_input({"type": "lifespan.shutdown"})
    assert await lifespan.receive_output(RECEIVE_TIMEOUT) == {"type": "lifespan.shutdown.complete"}
    assert current_runtime() is None


@pytest_django
@pytest.mark.parametrize("turn_engine", ["redis"], indirect=True)
async def test_a_turn_streaming_while_redis_restarts_empty_gets_its_whole_log_written_again(
    private_redis, learner, claude, settings
):
    settings.REDIS_URL = private_redis.url
    claude.enqueue(Reply.text(STORY, chunks=6, pause_at=3))
    communicator, _ = await open_chat(learner)
    await send(communicator, {"type": "message", "content": "Tell me about trees"})
    frames = [await receive(communicator) for _ in range(5)]
    reply_id = frames[1]["message"]["id"]
    await asyncio.to_thread(claude.wait_until_paused)

    private_redis.kill()
    assert (await receive_until(communicator, "error"))[-1]["code"] == "live_paused"
    claude.resume()  # the rest is written while Redis is away: held by the writer
    rest = await receive_turn(communicator)  # this process's sockets get it all the same
    assert text_of(frames) + text_of(rest) == STORY
    private_redis.start()  # empty: the first frames of the turn are gone from Redis
    history = (await receive_until(communicator, "history"))[-1]
    assert history["messages"][-1]["status"] == "complete"

    runtime = await get_runtime()
    await asyncio.wait_for(runtime.runner.writer.flushed(), 10)
    logged = await runtime.engine._read_log(reply_id)  # what another process would read
    assert [entry.seq for entry in logged] == list(range(1, len(logged) + 1))
    assert logged[-1].type == "done"
    assert text_of([json.loads(entry.frame) for entry in logged]) == STORY
    await communicator.disconnect()
