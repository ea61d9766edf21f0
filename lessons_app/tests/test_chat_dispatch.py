"""A learner's frames go straight to the chat, not first through Channels' shared thread.

Channels' ``AsyncConsumer.dispatch`` runs ``close_old_connections`` on its one shared
thread before every message; the chat's database work runs on its own pool, whose
calls tidy their own connections, so the chat's consumer leaves that step out.
"""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async

from lessons_app.tests.chat_helpers import CLAUDE, add_provider, open_chat, receive_turn, send
from llm_app.testing import Reply

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("turn_runtime")]


async def test_connecting_and_sending_a_message_skip_channels_close_old_connections(
    learner, anthropic_server, monkeypatch
):
    await database_sync_to_async(add_provider)("Claude", CLAUDE, anthropic_server.url, default=True)
    anthropic_server.enqueue(Reply.text("Chlorophyll reflects green light.", chunks=3))
    called: list[str] = []

    async def recorded() -> None:
        called.append("close_old_connections")

    monkeypatch.setattr("channels.consumer.aclose_old_connections", recorded)
    communicator, _ = await open_chat(learner)
    await send(communicator, {"type": "message", "content": "Why are leaves green?"})
    frames = await receive_turn(communicator)
    await communicator.disconnect()

    assert frames[-1]["type"] == "done"
    assert "".join(f["content"] for f in frames if f["type"] == "text") == (
        "Chlorophyll reflects green light."
    )
    assert called == []
