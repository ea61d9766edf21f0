"""Turns that belong to the conversation, not to a socket: on the in-memory engine and on Redis.

Every test runs twice (``turn_engine``): once with the in-memory engine, once with
real Redis Streams (needs ``REDIS_URL``; CI has it, and PostgreSQL too). Replies
come from the fake Anthropic server through real LiteLLM; ``pause_at`` holds a
reply mid-stream until the test resumes it, so nothing here waits on a clock.
"""

from __future__ import annotations

import asyncio

import pytest
from channels.db import database_sync_to_async

from lessons_app.models import Message
from lessons_app.tests.chat_helpers import (
    CLAUDE,
    add_provider,
    assert_silent,
    open_chat,
    receive,
    receive_turn,
    receive_until,
    send,
    text_of,
)
from lessons_app.tests.manual_clock import ManualClock
from lessons_app.tutor.runtime import get_runtime
from llm_app.testing import Reply

pytestmark = pytest.mark.django_db(transaction=True)

STORY = "Once upon a time a seed fell on warm soil and grew into a tall tree."
CHECKPOINT_SECONDS = 3600
CHECKPOINT_POLLS = 200
CHECKPOINT_POLL_SECONDS = 0.05


@pytest.fixture
async def claude(anthropic_server, turn_engine):
    await database_sync_to_async(add_provider)("Claude", CLAUDE, anthropic_server.url, default=True)
    return anthropic_server


async def start_paused_turn(communicator, server, *, texts: int) -> list[dict]:
    """Send a message whose reply holds after ``texts`` chunks; the frames up to there."""
    await send(communicator, {"type": "message", "content": "Tell me a story"})
    frames = [await receive(communicator) for _ in range(2 + texts)]
    assert [f["type"] for f in frames] == ["message", "reply", *["text"] * texts]
    await asyncio.to_thread(server.wait_until_paused)
    return frames


async def row(pk: int) -> Message:
    return await Message.objects.aget(pk=pk)


async def test_closing_the_socket_mid_reply_leaves_the_turn_running_for_the_next_socket(
    learner, claude
):
    claude.enqueue(Reply.text(STORY, chunks=6, pause_at=3))
    first, _ = await open_chat(learner)
    before = await start_paused_turn(first, claude, texts=3)
    reply_id = before[1]["message"]["id"]
    assert [(f["message_id"], f["seq"]) for f in before] == [(reply_id, n) for n in range(1, 6)]
    await first.disconnect()  # a reload, a closed tab, a phone going to sleep

    second, history = await open_chat(learner)
    assert history["turn"] == {"message_id": reply_id, "seq": 5, "resumed": False, "tools": []}
    in_flight = history["messages"][-1]
    assert (in_flight["id"], in_flight["status"]) == (reply_id, "streaming")
    assert in_flight["content"] == text_of(before)  # the text so far, from the log
    claude.resume()
    rest = await receive_turn(second)
    assert [f["seq"] for f in rest] == list(range(6, 6 + len(rest)))  # no gap, no repeat
    assert [f["type"] for f in rest[-2:]] == ["usage", "done"]
    assert in_flight["content"] + text_of(rest) == STORY
    saved = await row(reply_id)
    assert (saved.status, saved.content) == ("complete", STORY)
    await second.disconnect()


async def test_every_socket_of_the_learner_gets_the_same_turn_frames(learner, claude):
    claude.enqueue(Reply.text(STORY, chunks=5))
    first, _ = await open_chat(learner)
    second, _ = await open_chat(learner)
    await send(first, {"type": "message", "content": "Tell me a story"})
    seen_first = await receive_turn(first)
    seen_second = await receive_turn(second)
    assert seen_first == seen_second
    assert [f["type"] for f in seen_first[:2]] == ["message", "reply"]
    assert seen_first[0]["message"]["content"] == "Tell me a story"
    assert text_of(seen_second) == STORY
    await first.disconnect()
    await second.disconnect()


async def test_stop_from_another_socket_stops_the_turn_and_its_upstream_request(learner, claude):
    claude.enqueue(Reply.text(STORY, chunks=6, pause_at=2))
    first, _ = await open_chat(learner)
    second, _ = await open_chat(learner)
    before = await start_paused_turn(first, claude, texts=2)
    assert await receive_until(second, "text") and await receive(second)  # two texts there too

    await send(second, {"type": "stop"})
    for communicator in (first, second):
        end = (await receive_turn(communicator))[-1]
        assert (end["type"], end["code"], end["retryable"]) == ("error", "stopped", True)
    assert await asyncio.to_thread(claude.wait_for_disconnect, 5.0)
    saved = await row(before[1]["message"]["id"])
    assert (saved.status, saved.error_code) == ("stopped", "stopped")
    assert saved.content == text_of(before)
    await first.disconnect()
    await second.disconnect()


async def test_two_sockets_sending_at_once_start_one_turn_and_one_is_told_busy(learner, claude):
    claude.enqueue(Reply.text("Only one answer.", chunks=2, pause_at=1))
    first, _ = await open_chat(learner)
    second, _ = await open_chat(learner)
    await send(first, {"type": "message", "content": "From the first tab"})
    await send(second, {"type": "message", "content": "From the second tab"})
    await asyncio.to_thread(claude.wait_until_paused)
    claude.resume()

    frames = [await receive_until(first, "done"), await receive_until(second, "done")]
    refusals = [f for both in frames for f in both if f["type"] == "error"]
    assert [(f["code"], f["rejected"]) for f in refusals] == [("busy", "message")]
    assert [f for f in frames[0] if f["type"] != "error"] == [
        f for f in frames[1] if f["type"] != "error"
    ]
    users = [m.content async for m in Message.objects.filter(role="user")]
    assert len(users) == 1, "the refused message is not saved"
    assert len(claude.requests) == 1
    await first.disconnect()
    await second.disconnect()


async def test_message_retry_and_advance_are_busy_on_any_socket_while_a_turn_runs(learner, claude):
    claude.enqueue(Reply.text(STORY, chunks=4, pause_at=1))
    first, _ = await open_chat(learner)
    second, history = await open_chat(learner)
    await start_paused_turn(first, claude, texts=1)
    await receive_until(second, "text")
    advance = {"type": "advance", "from_stage": history["stage"]["id"]}
    for frame in ({"type": "message", "content": "Me too"}, {"type": "retry"}, advance):
        await send(second, frame)
        refusal = await receive(second)
        assert (refusal["type"], refusal["code"], refusal["rejected"]) == (
            "error",
            "busy",
            frame["type"],
        )
    claude.resume()
    assert (await receive_turn(second))[-1]["type"] == "done"
    await first.disconnect()
    await second.disconnect()


async def test_a_cursor_replays_what_the_client_missed_and_a_stale_one_gets_a_snapshot(
    learner, claude
):
    claude.enqueue(Reply.text(STORY, chunks=6, pause_at=3))
    first, _ = await open_chat(learner)
    before = await start_paused_turn(first, claude, texts=3)
    reply_id = before[1]["message"]["id"]
    await first.disconnect()

    # The client kept frames 1-4 (it missed 5): it says so and gets frame 5 again, then live.
    second, history = await open_chat(learner, query=f"message_id={reply_id}&seq=4")
    assert history["turn"] == {"message_id": reply_id, "seq": 4, "resumed": True, "tools": []}
    assert history["messages"][-1]["content"] == text_of(before[:4])
    assert await receive(second) == before[4]

    # A cursor for another message, or beyond the log, is too old: a snapshot instead.
    for query in (f"message_id={reply_id - 1}&seq=4", f"message_id={reply_id}&seq=99"):
        third, history = await open_chat(learner, query=query)
        assert history["turn"] == {"message_id": reply_id, "seq": 5, "resumed": False, "tools": []}
        assert history["messages"][-1]["content"] == text_of(before)
        await third.disconnect()

    claude.resume()
    rest = await receive_turn(second)
    assert text_of(before) + text_of(rest) == STORY
    await second.disconnect()


async def test_the_reply_row_is_finished_before_done_reaches_any_socket(learner, claude):
    claude.enqueue(Reply.text(STORY, chunks=3))
    communicator, _ = await open_chat(learner)
    await send(communicator, {"type": "message", "content": "Hi"})
    frames = await receive_turn(communicator)
    assert frames[-1]["type"] == "done"
    saved = await row(frames[1]["message"]["id"])
    assert saved.status == "complete"
    _, history = await open_chat(learner)  # a reconnect right after done
    assert history["turn"] is None
    assert history["messages"][-1]["status"] == "complete"
    await communicator.disconnect()


async def test_checkpoints_save_the_partial_text_of_a_running_turn(learner, claude):
    claude.enqueue(Reply.text(STORY, chunks=6, pause_at=2))
    communicator, _ = await open_chat(learner)
    before = await start_paused_turn(communicator, claude, texts=2)
    reply_id = before[1]["message"]["id"]
    assert (await row(reply_id)).content == ""  # nothing is written per token

    runtime = await get_runtime()
    await runtime.runner.checkpoint_once()
    saved = await row(reply_id)
    assert (saved.status, saved.content) == ("streaming", text_of(before))
    assert saved.runner_id == runtime.runner.runner_id
    assert saved.heartbeat_at is not None
    claude.resume()
    await receive_turn(communicator)
    await communicator.disconnect()


async def test_the_runner_checkpoints_running_turns_every_checkpoint_interval_of_its_clock(
    learner, claude, settings
):
    """What a killed server keeps (test_turns_across_processes.py) is at most this old."""
    settings.TUTOR_CHECKPOINT_SECONDS = CHECKPOINT_SECONDS  # only the test's clock gets there
    clock = ManualClock()
    await get_runtime(clock=clock)
    claude.enqueue(Reply.text(STORY, chunks=6, pause_at=2))
    communicator, _ = await open_chat(learner)
    before = await start_paused_turn(communicator, claude, texts=2)
    reply_id = before[1]["message"]["id"]
    await clock.sleeping(settings.TUTOR_CHECKPOINT_SECONDS)
    assert (await row(reply_id)).content == ""  # no time has passed

    await clock.advance(settings.TUTOR_CHECKPOINT_SECONDS)
    for _ in range(CHECKPOINT_POLLS):  # the checkpoint's UPDATE runs in a thread
        if (saved := await row(reply_id)).content:
            break
        await asyncio.sleep(CHECKPOINT_POLL_SECONDS)
    assert (saved.status, saved.content) == ("streaming", text_of(before))
    claude.resume()
    await receive_turn(communicator)
    await communicator.disconnect()


async def test_a_failure_before_the_model_call_ends_the_turn_with_an_error(
    learner, claude, monkeypatch
):
    def broken(**kwargs):
        raise RuntimeError("the provider table is on fire")

    monkeypatch.setattr("lessons_app.tutor.turns.resolve_provider", broken)
    communicator, _ = await open_chat(learner)
    await send(communicator, {"type": "message", "content": "Hello?"})
    frames = await receive_turn(communicator)
    assert [f["type"] for f in frames] == ["message", "reply", "error"]
    assert frames[-1]["code"] == "internal"
    saved = await row(frames[1]["message"]["id"])
    assert (saved.status, saved.error_code) == ("error", "internal")

    monkeypatch.undo()
    claude.enqueue(Reply.text("Working again."))
    await send(communicator, {"type": "retry"})
    assert text_of(await receive_turn(communicator)) == "Working again."
    await communicator.disconnect()


async def test_moving_on_in_one_tab_moves_the_others_too(learner, claude):
    claude.enqueue(Reply.text("Let's talk about it."))
    first, _ = await open_chat(learner)
    second, history = await open_chat(learner)
    assert history["stage"]["title"] == "Photosynthesis"
    await send(first, {"type": "advance", "from_stage": history["stage"]["id"]})
    moved = await receive(first)
    assert (moved["type"], moved["stage"]["title"]) == ("stage", "Discuss")
    # Where the learner is, not the history: the browser reloads the page to show it.
    assert set(moved) == {"type", "stage"}
    told = await receive(second)
    assert told == moved
    # The tutor's opening of the chat stage reaches both, as every turn does.
    assert text_of(await receive_turn(first)) == "Let's talk about it."
    assert text_of(await receive_turn(second)) == "Let's talk about it."
    await first.disconnect()
    await second.disconnect()


async def test_an_advance_from_a_stage_already_left_moves_nobody_and_tells_nobody(learner, claude):
    claude.enqueue(Reply.text("Let's talk about it."))
    first, history = await open_chat(learner)
    second, _ = await open_chat(learner)
    from_reading = {"type": "advance", "from_stage": history["stage"]["id"]}
    await send(first, from_reading)
    moved = await receive(first)
    assert await receive(second) == moved
    await receive_turn(first)  # the tutor opens the chat stage
    await receive_turn(second)

    # The second tab's Next stage, clicked before it reloaded: the same intent once more.
    await send(second, from_reading)
    assert await receive(second) == moved
    await assert_silent(second)
    markers = [m.content async for m in Message.objects.filter(role="system")]
    assert markers == [
        "Started reading: Photosynthesis",
        "Finished reading: Photosynthesis",
        "Started chatting: Discuss",
    ]
    assert len(claude.requests) == 1  # and the chat stage was opened once

    # What the repeat told the first tab comes through the engine, ahead of the next turn
    # the second tab starts: so that turn's echo must be the first tab's next frame.
    claude.enqueue(Reply.text("Good question."))
    await send(second, {"type": "message", "content": "Why?"})
    assert (await receive(first))["type"] == "message"
    await receive_turn(first)
    await assert_silent(first)
    await first.disconnect()
    await second.disconnect()
