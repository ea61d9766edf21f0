"""Text frames on the chat socket: chunks faster than TUTOR_TEXT_FRAME_SECONDS go as one frame.

The suite sends every chunk on its own (pytest.ini), so that tests can count them;
here the interval is on, and the runtime's clock stands still: every chunk after
the first arrives "within the interval", so it waits for the next frame of the turn.
"""

from __future__ import annotations

import asyncio

import pytest
from channels.db import database_sync_to_async

from lessons_app.models import Message
from lessons_app.tests.chat_helpers import (
    CLAUDE,
    add_provider,
    open_chat,
    receive_turn,
    receive_until,
    send,
)
from lessons_app.tests.manual_clock import ManualClock
from lessons_app.tutor.loop_share import LoopShare
from lessons_app.tutor.runtime import get_runtime
from llm_app.testing import Reply

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("turn_runtime")]

REPLY = "Leaves are green because chlorophyll reflects green light."


@pytest.fixture
async def claude(anthropic_server, settings):
    settings.TUTOR_TEXT_FRAME_SECONDS = 0.04
    await database_sync_to_async(add_provider)("Claude", CLAUDE, anthropic_server.url, default=True)
    return anthropic_server


async def test_the_first_text_goes_at_once_and_faster_chunks_are_joined(learner, claude):
    await get_runtime(clock=ManualClock())
    claude.enqueue(Reply.text(REPLY, chunks=6))
    communicator, _ = await open_chat(learner)
    await send(communicator, {"type": "message", "content": "Why are leaves green?"})
    frames = await receive_turn(communicator)
    await communicator.disconnect()

    texts = [frame["content"] for frame in frames if frame["type"] == "text"]
    assert len(texts) == 2, texts  # the first chunk; then the other five, before `usage`
    assert "".join(texts) == REPLY
    assert [frame["type"] for frame in frames[-3:]] == ["text", "usage", "done"]
    seqs = [frame["seq"] for frame in frames]
    assert seqs == list(range(1, len(frames) + 1))  # one log entry per frame, no gaps
    reply = await Message.objects.aget(pk=frames[-1]["message_id"])
    assert reply.content == REPLY


async def test_a_stopped_reply_sends_the_text_that_waited_before_it_ends(learner, claude):
    await get_runtime(clock=ManualClock())
    claude.enqueue(Reply.text(REPLY, chunks=6, pause_at=4))
    communicator, _ = await open_chat(learner)
    await send(communicator, {"type": "message", "content": "Why are leaves green?"})
    frames = await receive_until(communicator, "text")
    await send(communicator, {"type": "stop"})
    frames += await receive_turn(communicator)
    await communicator.disconnect()
    claude.resume()

    assert frames[-1]["code"] == "stopped"
    reply = await Message.objects.aget(pk=frames[-1]["message_id"])
    # Whatever had arrived and waited went out before the end: the socket shows what is saved.
    shown = "".join(frame["content"] for frame in frames if frame["type"] == "text")
    assert shown == reply.content


async def test_a_turn_gives_the_loop_back_after_every_chunk(learner, claude, monkeypatch):
    """The provider sends its chunks at once: the turn reads them from the buffer without
    waiting, so it gives way itself, or every other task would wait behind the reply."""
    given = []
    give_way = LoopShare.give_way

    async def counted(share):
        given.append(share)
        await give_way(share)

    monkeypatch.setattr(LoopShare, "give_way", counted)
    runtime = await get_runtime(clock=ManualClock())
    claude.enqueue(Reply.text(REPLY, chunks=6))
    communicator, _ = await open_chat(learner)
    await send(communicator, {"type": "message", "content": "Why are leaves green?"})
    await receive_turn(communicator)
    await communicator.disconnect()

    assert len(given) == 6
    assert set(given) == {runtime.runner.loop_share}  # one share for the process's turns


async def test_a_turn_ended_while_it_gives_way_hangs_up_on_the_provider(
    learner, claude, monkeypatch
):
    """The end lands between two chunks, outside the provider stream: the turn still
    closes it, and saves what the learner was shown."""
    given = []
    give_way = LoopShare.give_way

    async def ended_on_the_second_chunk(share):
        given.append(share)
        if len(given) == 2:
            asyncio.current_task().cancel()  # what the runtime does to end a turn
        await give_way(share)

    monkeypatch.setattr(LoopShare, "give_way", ended_on_the_second_chunk)
    await get_runtime(clock=ManualClock())
    claude.enqueue(Reply.text(REPLY, chunks=6, pause_at=4))
    communicator, _ = await open_chat(learner)
    await send(communicator, {"type": "message", "content": "Why are leaves green?"})
    frames = await receive_turn(communicator)
    await communicator.disconnect()
    call = await asyncio.to_thread(claude.wait_until_finished, 5.0)
    claude.resume()

    assert call.disconnected and not call.completed
    assert frames[-1]["code"] == "interrupted"
    reply = await Message.objects.aget(pk=frames[-1]["message_id"])
    shown = "".join(frame["content"] for frame in frames if frame["type"] == "text")
    assert shown == reply.content and len(given) == 2
