"""TUTOR_MODERATION: learner messages checked beside the reply, flagged ones kept for staff."""

from __future__ import annotations

import asyncio

import pytest
from channels.db import database_sync_to_async

from lessons_app import moderation_flags
from lessons_app.models import Message, ModerationFlag
from lessons_app.tests.chat_helpers import add_provider, open_chat, receive, receive_turn, send
from lessons_app.tests.chat_helpers import text_of as reply_text
from llm_app.moderation import MODERATION_MODEL
from llm_app.testing import Reply

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("turn_runtime")]

MODERATIONS = "/v1/moderations"


@pytest.fixture
async def gpt(openai_server):
    await database_sync_to_async(add_provider)(
        "GPT", "openai/gpt-4o-mini", openai_server.url, default=True
    )
    return openai_server


async def say(communicator, content: str) -> list[dict]:
    await send(communicator, {"type": "message", "content": content})
    assert (await receive(communicator))["type"] == "message"
    return await receive_turn(communicator)


async def flags() -> list[ModerationFlag]:
    return [f async for f in ModerationFlag.objects.select_related("message").order_by("pk")]


async def test_the_reply_does_not_wait_for_moderation_and_a_flag_follows(learner, gpt, settings):
    settings.TUTOR_MODERATION = True
    gpt.flag("stupid", "harassment")
    gpt.hold_moderation = True  # the check cannot finish until the test lets it
    gpt.enqueue(Reply.text("Let's keep it kind. What colour are leaves?"))
    communicator, _ = await open_chat(learner)

    frames = await say(communicator, "This lesson is stupid")
    # The whole reply arrived while its moderation check was still held.
    assert frames[-1]["type"] == "done"
    assert reply_text(frames) == "Let's keep it kind. What colour are leaves?"
    held = await asyncio.to_thread(gpt.wait_until_paused)
    assert held.path == MODERATIONS
    assert held.json == {"input": "This lesson is stupid", "model": MODERATION_MODEL}
    assert await flags() == []

    gpt.resume()
    await asyncio.gather(*moderation_flags.pending())
    (flag,) = await flags()
    assert flag.message.content == "This lesson is stupid"
    assert flag.message.role == Message.Role.USER
    assert (flag.categories, flag.provider_name) == (["harassment"], "GPT")
    await communicator.disconnect()


async def test_a_clean_message_leaves_no_flag(learner, gpt, settings):
    settings.TUTOR_MODERATION = True
    gpt.flag("stupid")
    gpt.enqueue(Reply.text("Yes."))
    communicator, _ = await open_chat(learner)
    await say(communicator, "Leaves are green")
    await asyncio.gather(*moderation_flags.pending())
    assert [call.path for call in gpt.requests if call.path == MODERATIONS] == [MODERATIONS]
    assert await flags() == []
    await communicator.disconnect()


async def test_moderation_is_off_by_default(learner, gpt):
    gpt.flag("stupid")
    gpt.enqueue(Reply.text("Hm."))
    communicator, _ = await open_chat(learner)
    await say(communicator, "This is stupid")
    assert moderation_flags.pending() == set()
    assert all(call.path != MODERATIONS for call in gpt.requests)
    assert await flags() == []
    await communicator.disconnect()
