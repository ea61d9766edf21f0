"""The chat socket end to end with the offline demo tutor (LiteLLM custom provider)."""

import pytest

from lessons_app.models import LessonProgress, Message
from lessons_app.tests.chat_helpers import (
    bare,
    connect,
    make_learner,
    receive,
    receive_turn,
    send,
    text_of,
)
from llm_app.testing.factories import DemoProviderFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("turn_runtime")]


@pytest.fixture
def demo_default():
    return DemoProviderFactory(is_default=True)


async def test_history_then_a_streamed_reply_then_advance_opens_the_chat_stage(demo_default):
    user = await make_learner()
    communicator, connected, _ = await connect(user, "plants")
    assert connected
    history = await receive(communicator)
    assert history["type"] == "history"
    assert history["stage"]["title"] == "Photosynthesis"
    assert [m["content"] for m in history["messages"]] == ["Started reading: Photosynthesis"]

    await send(communicator, {"type": "message", "content": "What is chlorophyll?"})
    echo = await receive(communicator)
    assert echo["type"] == "message"
    assert echo["message"]["content"] == "What is chlorophyll?"
    frames = await receive_turn(communicator)
    assert frames[0]["type"] == "reply"
    assert frames[0]["message"]["is_demo"] is True
    assert "provider" not in frames[0]["message"]  # learners don't see provider details
    assert 'You said: "What is chlorophyll?"' in text_of(frames)
    assert [f["type"] for f in frames[-2:]] == ["usage", "done"]

    await send(communicator, {"type": "advance", "from_stage": history["stage"]["id"]})
    stage = await receive(communicator)
    assert stage["type"] == "stage"
    assert stage["stage"]["title"] == "Discuss"
    opening = await receive_turn(communicator)
    assert "Hello! I'm the demo tutor for **Discuss**" in text_of(opening)

    await send(communicator, {"type": "message", "content": "I'm ready to move on"})
    await receive(communicator)
    frames = await receive_turn(communicator)
    assert {"type": "tool_use", "name": "transition_to_next"} in bare(frames)
    await communicator.disconnect()

    rows = [m async for m in Message.objects.order_by("created_at", "id")]
    assert [(m.role, m.status) for m in rows if m.role != "system"] == [
        ("user", "complete"),
        ("assistant", "complete"),
        ("assistant", "complete"),
        ("user", "complete"),
        ("assistant", "complete"),
    ]
    assert rows[-1].output_tokens and rows[-1].provider_name == "Demo"
    progress = await LessonProgress.objects.aget()
    assert progress.current_stage_id == stage["stage"]["id"]
