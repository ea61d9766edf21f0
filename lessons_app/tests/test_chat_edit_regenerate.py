"""Editing the learner's last message and regenerating the latest reply, over the socket.

Both supersede messages (docs/protocol.md, "Edit and regenerate"): the rows stay, marked
``superseded_at``, the model never sees them again, and every socket of the learner gets a
fresh ``history`` before the new turn's frames.
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
from llm_app.testing import Reply

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("turn_runtime")]


@pytest.fixture
async def claude(anthropic_server):
    await database_sync_to_async(add_provider)("Claude", CLAUDE, anthropic_server.url, default=True)
    return anthropic_server


def said(request) -> list[tuple[str, str]]:
    """(role, text) of every message the model was sent."""
    out = []
    for message in request.messages:
        content = message["content"]
        if isinstance(content, list):
            content = "".join(block.get("text", "") for block in content)
        out.append((message["role"], content))
    return out


async def rows() -> list[tuple[str, str, bool]]:
    return [
        (m.role, m.content, m.superseded_at is not None)
        async for m in Message.objects.exclude(role="system").order_by("created_at", "id")
    ]


async def ask(communicator, content: str) -> list[dict]:
    await send(communicator, {"type": "message", "content": content})
    return await receive_turn(communicator)


async def test_regenerating_a_finished_reply_supersedes_it_and_the_model_never_sees_it(
    learner, claude
):
    # The new reply is held after its first chunk, so the history certainly catches it streaming.
    claude.enqueue(
        Reply.text("First answer."),
        Reply.text("Second answer.", chunks=3, pause_at=1),
        Reply.text("Ok."),
    )
    communicator, _ = await open_chat(learner)
    await ask(communicator, "Hello?")
    await send(communicator, {"type": "retry"})

    history = await receive(communicator)
    # The history goes out as the turn starts, maybe before the model call reaches the fake:
    # a resume before the hold would be lost.
    await asyncio.to_thread(claude.wait_until_paused)
    claude.resume()
    assert history["type"] == "history"
    old, new = [m for m in history["messages"] if m["role"] == "assistant"]
    assert old["content"] == "First answer." and old["superseded_at"] is not None
    assert new["status"] == "streaming" and new["superseded_at"] is None
    assert history["turn"]["message_id"] == new["id"]
    frames = await receive_turn(communicator)
    # The history carries what the new reply had written by then; its frames, the rest.
    assert new["content"] + text_of(frames) == "Second answer."
    assert said(claude.last_request) == [("user", "Hello?")]

    await ask(communicator, "Thanks")
    assert said(claude.last_request) == [
        ("user", "Hello?"),
        ("assistant", "Second answer."),
        ("user", "Thanks"),
    ]
    assert await rows() == [
        ("user", "Hello?", False),
        ("assistant", "First answer.", True),
        ("assistant", "Second answer.", False),
        ("user", "Thanks", False),
        ("assistant", "Ok.", False),
    ]
    await communicator.disconnect()


async def test_an_edit_replaces_the_last_message_and_every_tab_gets_the_new_history(
    learner, claude
):
    # The new reply is held after its first chunk, so both histories certainly catch it
    # streaming and its frames follow them.
    claude.enqueue(Reply.text("About cats."), Reply.text("About dogs.", chunks=3, pause_at=1))
    first, _ = await open_chat(learner)
    second, _ = await open_chat(learner)
    await ask(first, "Tell me about cats")
    await receive_turn(second)  # the other tab followed that turn

    await send(first, {"type": "edit", "content": "  Tell me about dogs  "})
    replies = []
    for socket in (first, second):
        history = await receive(socket)
        assert history["type"] == "history"
        *shown, reply = [
            (m["role"], m["content"], m["superseded_at"] is not None)
            for m in history["messages"]
            if m["role"] != "system"
        ]
        assert shown == [
            ("user", "Tell me about cats", True),
            ("assistant", "About cats.", True),
            ("user", "Tell me about dogs", False),
        ]
        assert reply[0] == "assistant" and not reply[2]
        replies.append(reply[1])
    await asyncio.to_thread(claude.wait_until_paused)  # as above: a resume before it is lost
    claude.resume()
    for socket, shown_text in zip((first, second), replies, strict=True):
        assert shown_text + text_of(await receive_turn(socket)) == "About dogs."
    assert said(claude.last_request) == [("user", "Tell me about dogs")]
    await assert_silent(first)
    await first.disconnect()
    await second.disconnect()


async def test_an_edit_with_no_message_to_edit_is_refused(learner, claude):
    communicator, _ = await open_chat(learner)
    await send(communicator, {"type": "edit", "content": "Hi"})
    refusal = await receive(communicator)
    assert (refusal["type"], refusal["code"], refusal["rejected"]) == (
        "error",
        "nothing_to_edit",
        "edit",
    )
    await send(communicator, {"type": "edit", "content": "   "})
    assert (await receive(communicator))["code"] == "empty"
    await send(communicator, {"type": "edit"})
    assert (await receive(communicator))["code"] == "bad_frame"
    assert await rows() == []
    await communicator.disconnect()


async def test_an_edit_or_a_regeneration_during_a_turn_is_busy_and_changes_nothing(learner, claude):
    claude.enqueue(Reply.text("one two three four", chunks=4, pause_at=1))
    communicator, _ = await open_chat(learner)
    await send(communicator, {"type": "message", "content": "Hello?"})
    await receive_until(communicator, "text")
    claude.wait_until_paused()
    for frame in ({"type": "edit", "content": "Changed"}, {"type": "retry"}):
        await send(communicator, frame)
        refusal = await receive(communicator)
        assert (refusal["code"], refusal["rejected"]) == ("busy", frame["type"])
    claude.resume()
    await receive_turn(communicator)
    assert [superseded for *_, superseded in await rows()] == [False, False]
    await communicator.disconnect()


async def test_a_failed_reply_is_retried_without_being_superseded(learner, claude):
    claude.enqueue(Reply.error(529), Reply.text("Second time lucky."))
    communicator, _ = await open_chat(learner)
    await ask(communicator, "Hello?")
    await send(communicator, {"type": "retry"})
    frames = await receive_turn(communicator)
    assert frames[0]["type"] == "reply"  # followed as before: no new history
    assert text_of(frames) == "Second time lucky."
    assert [superseded for *_, superseded in await rows()] == [False, False, False]
    await communicator.disconnect()
